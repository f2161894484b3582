# SPDX-License-Identifier: Apache-2.0
# utilities/: operator tools.

bin_PROGRAMS += utilities/slb-ctl
utilities_slb_ctl_SOURCES = utilities/slb-ctl.c
utilities_slb_ctl_LDADD = mux/libslbmux.la lib/libslb.la $(OVS_LIBS)

man_MANS += utilities/slb-ctl.8
EXTRA_DIST += utilities/slb-ctl.8
EXTRA_DIST += utilities/slb-seed-example
EXTRA_DIST += utilities/slb-demo
EXTRA_DIST += utilities/slb-failover-bench utilities/slb-fastpath-bench \
	utilities/slb-scale \
	utilities/slb-synflood utilities/slb-cluster-bench \
	utilities/slb-meter-bench utilities/slb-soak utilities/slb-bench-plot
EXTRA_DIST += utilities/slb-db-upgrade
