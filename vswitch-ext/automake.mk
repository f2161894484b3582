# SPDX-License-Identifier: Apache-2.0
# vswitch-ext/: the OpenFlow pipeline that slb-agent installs on a host.

noinst_LTLIBRARIES += vswitch-ext/libslbpipeline.la
vswitch_ext_libslbpipeline_la_SOURCES = \
	vswitch-ext/host-flows.c \
	vswitch-ext/host-flows.h \
	vswitch-ext/pipeline.c \
	vswitch-ext/pipeline.h
