# mux/: slb-mux, the mux tier's data path.

# The packet path and its tables, as a library for slb-mux, its benchmark
# and the unit tests.
noinst_LTLIBRARIES += mux/libslbmux.la
mux_libslbmux_la_SOURCES = \
	mux/maglev.c \
	mux/maglev.h \
	mux/mux-config.c \
	mux/mux-config.h \
	mux/mux-dp.c \
	mux/mux-dp.h \
	mux/mux-flow.c \
	mux/mux-flow.h
mux_libslbmux_la_LIBADD = lib/libslb.la $(OVS_LIBS)

sbin_PROGRAMS += mux/slb-mux
mux_slb_mux_SOURCES = mux/slb-mux.c
mux_slb_mux_LDADD = mux/libslbmux.la lib/libslb.la $(OVS_LIBS)

# The in-memory benchmark of the packet path ("./quickstart bench").
noinst_PROGRAMS += mux/slb-mux-bench
mux_slb_mux_bench_SOURCES = mux/slb-mux-bench.c
mux_slb_mux_bench_LDADD = mux/libslbmux.la lib/libslb.la $(OVS_LIBS)

man_MANS += mux/slb-mux.8
EXTRA_DIST += mux/slb-mux.8
