# SPDX-License-Identifier: Apache-2.0
# tests/: Check unit tests and the autotest suite, both run by "make check".

# Unit tests with Check: pure functions, and the prober against servers on
# loopback.
check_PROGRAMS += tests/test-slb-parse tests/test-snat tests/test-maglev \
	tests/test-mux-flow tests/test-mux-ids tests/test-mux-dp \
	tests/test-host-flows tests/test-health tests/test-prober \
	tests/test-snat-usage tests/test-tcp-reset tests/test-frag-hold
TESTS += tests/test-slb-parse tests/test-snat tests/test-maglev \
	tests/test-mux-flow tests/test-mux-ids tests/test-mux-dp \
	tests/test-host-flows tests/test-health tests/test-prober \
	tests/test-snat-usage tests/test-tcp-reset tests/test-frag-hold
# Every source file names its license.
TESTS += build-aux/check-spdx
EXTRA_DIST += build-aux/check-spdx
UNIT_TEST_LIBS = lib/libslb.la $(OVS_LIBS) $(CHECK_LIBS)
tests_test_slb_parse_SOURCES = tests/test-slb-parse.c tests/slb-check.h
tests_test_slb_parse_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_slb_parse_LDADD = $(UNIT_TEST_LIBS)
tests_test_snat_SOURCES = tests/test-snat.c
tests_test_snat_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_snat_LDADD = $(UNIT_TEST_LIBS)
tests_test_maglev_SOURCES = tests/test-maglev.c
tests_test_maglev_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_test_maglev_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_maglev_LDADD = mux/libslbmux.la $(UNIT_TEST_LIBS)
tests_test_mux_flow_SOURCES = tests/test-mux-flow.c
tests_test_mux_flow_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_test_mux_flow_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_mux_flow_LDADD = mux/libslbmux.la $(UNIT_TEST_LIBS)
tests_test_mux_ids_SOURCES = tests/test-mux-ids.c
tests_test_mux_ids_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_test_mux_ids_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_mux_ids_LDADD = mux/libslbmux.la $(UNIT_TEST_LIBS)
tests_test_mux_dp_SOURCES = tests/test-mux-dp.c
tests_test_mux_dp_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mux
tests_test_mux_dp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_mux_dp_LDADD = mux/libslbmux.la $(UNIT_TEST_LIBS)
tests_test_host_flows_SOURCES = tests/test-host-flows.c
tests_test_host_flows_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/vswitch-ext
tests_test_host_flows_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_host_flows_LDADD = vswitch-ext/libslbpipeline.la \
	$(UNIT_TEST_LIBS)
tests_test_health_SOURCES = tests/test-health.c agent/health.c \
	agent/health.h
tests_test_health_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent
tests_test_health_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_health_LDADD = $(UNIT_TEST_LIBS)
tests_test_prober_SOURCES = tests/test-prober.c agent/prober.c \
	agent/prober.h
tests_test_prober_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent
tests_test_prober_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_test_prober_LDADD = $(UNIT_TEST_LIBS) $(LIBEVENT_LIBS)
tests_test_snat_usage_SOURCES = tests/test-snat-usage.c agent/snat-usage.c \
	agent/snat-usage.h
tests_test_snat_usage_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent
tests_test_snat_usage_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_snat_usage_LDADD = $(UNIT_TEST_LIBS)
tests_test_tcp_reset_SOURCES = tests/test-tcp-reset.c agent/tcp-reset.c \
	agent/tcp-reset.h
tests_test_tcp_reset_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent \
	-I$(top_srcdir)/vswitch-ext
tests_test_tcp_reset_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_tcp_reset_LDADD = $(UNIT_TEST_LIBS)
tests_test_frag_hold_SOURCES = tests/test-frag-hold.c agent/frag-hold.c \
	agent/frag-hold.h
tests_test_frag_hold_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent \
	-I$(top_srcdir)/vswitch-ext
tests_test_frag_hold_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_frag_hold_LDADD = $(UNIT_TEST_LIBS)

# The autotest suite.  It is built with OVS's own test macros: autom4te
# searches this source tree first and the OVS source tree after it, so
# "m4_include([tests/ovs-macros.at])" finds OVS's file.
TESTSUITE_AT = \
	tests/testsuite.at \
	tests/slb-macros.at \
	tests/slb-ctl.at \
	tests/slb-mux.at \
	tests/slb-bgp.at \
	tests/slb-agent.at \
	tests/slb-security.at \
	tests/slb-cluster.at \
	tests/slb-system.at
EXTRA_DIST += $(TESTSUITE_AT) tests/testsuite tests/atlocal.in \
	tests/slb-packet \
	tests/slb-lossy-proxy \
	tests/slb-redirect \
	tests/slb-webserver \
	tests/package-smoke-test \
	tests/slb-ctl-refusals.py \
	tests/slb-ctl-refusals.txt \
	tests/slb-2.0.0.ovsschema \
	tests/slb-3.10.0.ovsschema \
	tests/slb-3.11.0.ovsschema \
	$(srcdir)/package.m4
TESTSUITE = $(srcdir)/tests/testsuite
DISTCLEANFILES += tests/atconfig tests/atlocal

# Programs under test come first, then OVS's own build (not the system's
# installed copies, which may differ).
AUTOTEST_PATH = $(abs_top_builddir)/utilities:$(abs_top_builddir)/mux:$(abs_top_builddir)/agent:$(abs_top_srcdir)/tests:$(OVS_BUILDDIR)/ovsdb:$(OVS_BUILDDIR)/vswitchd:$(OVS_BUILDDIR)/utilities

AUTOM4TE = autom4te
AUTOTEST = $(AUTOM4TE) -l autotest
$(TESTSUITE): package.m4 $(TESTSUITE_AT)
	$(AM_V_GEN)$(AUTOTEST) -I '$(srcdir)' -I '$(OVS_SRCDIR)' \
		-o $@.tmp $@.at && mv $@.tmp $@

# The identity of the package, for the suite's banner.
$(srcdir)/package.m4: $(top_srcdir)/configure.ac
	$(AM_V_GEN):;{ \
	  echo '# Signature of the current package.' && \
	  echo 'm4_define([AT_PACKAGE_NAME],      [$(PACKAGE_NAME)])' && \
	  echo 'm4_define([AT_PACKAGE_TARNAME],   [$(PACKAGE_TARNAME)])' && \
	  echo 'm4_define([AT_PACKAGE_VERSION],   [$(PACKAGE_VERSION)])' && \
	  echo 'm4_define([AT_PACKAGE_STRING],    [$(PACKAGE_STRING)])' && \
	  echo 'm4_define([AT_PACKAGE_BUGREPORT], [$(PACKAGE_BUGREPORT)])'; \
	} >'$(srcdir)/package.m4'

CHECK_LOCAL += check-autotest
check-autotest: $(TESTSUITE) tests/atconfig tests/atlocal $(bin_PROGRAMS) \
		$(sbin_PROGRAMS)
	$(SHELL) '$(TESTSUITE)' -C tests AUTOTEST_PATH='$(AUTOTEST_PATH)' \
		$(TESTSUITEFLAGS)
.PHONY: check-autotest

clean-local:
	test ! -f '$(TESTSUITE)' || $(SHELL) '$(TESTSUITE)' -C tests --clean
