# SPDX-License-Identifier: Apache-2.0
# fuzz/: libFuzzer targets for the code that reads what others send it:
# the mux's packet path and flow table, the agent's answer to frames too
# big for the tunnel and its held fragments, the fastpath's redirects, the parsers of lib/, and
# the mux's history file.  "make fuzz" builds them
# with clang (neither "make" nor "make check" does); "./quickstart fuzz
# [SECONDS]" builds and runs them (see the README).
#
# Only the code under test is instrumented: each target compiles it with
# the fuzzer and the address and undefined-behaviour sanitizers, and links
# OVS-SLB's library and Open vSwitch's as built.

FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_COMPILE = $(FUZZ_CC) $(FUZZ_CFLAGS) $(DEFS) -I$(top_builddir) \
	-I$(top_srcdir) -I$(top_srcdir)/vswitch-ext $(AM_CPPFLAGS)
# Open vSwitch's static library, and those that its libtool archive says
# it needs, static where they are libtool archives too.
FUZZ_LINK = lib/.libs/libslb.a $(OVS_BUILDDIR)/lib/.libs/libopenvswitch.a \
	`sed -n "s/^dependency_libs='\(.*\)'$$/\1/p" $(OVS_LIBS) \
	 | sed 's|\([^ ]*\)/\([^/ ]*\)\.la|\1/.libs/\2.a|g'` -lpthread -lrt

FUZZ_TARGETS = fuzz/fuzz-mux-dp fuzz/fuzz-mux-flow fuzz/fuzz-frag-needed \
	fuzz/fuzz-frag-hold fuzz/fuzz-parse fuzz/fuzz-redirect fuzz/fuzz-history
CLEANFILES += $(FUZZ_TARGETS)
EXTRA_DIST += fuzz/fuzz-mux-dp.c fuzz/fuzz-mux-flow.c \
	fuzz/fuzz-frag-needed.c fuzz/fuzz-frag-hold.c fuzz/fuzz-parse.c \
	fuzz/fuzz-redirect.c fuzz/fuzz-history.c \
	fuzz/make-seeds fuzz/regressions

fuzz: $(FUZZ_TARGETS)
.PHONY: fuzz

fuzz/fuzz-mux-dp: fuzz/fuzz-mux-dp.c mux/mux-dp.c mux/mux-flow.c \
		mux/mux-frag.c mux/maglev.c lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)

fuzz/fuzz-mux-flow: fuzz/fuzz-mux-flow.c mux/mux-flow.c lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)

fuzz/fuzz-frag-needed: fuzz/fuzz-frag-needed.c agent/frag-needed.c \
		agent/tcp-reset.c lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)

fuzz/fuzz-frag-hold: fuzz/fuzz-frag-hold.c agent/frag-hold.c lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)

fuzz/fuzz-parse: fuzz/fuzz-parse.c lib/slb-parse.c lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)

fuzz/fuzz-redirect: fuzz/fuzz-redirect.c lib/redirect.c lib/redirect.pb-c.c \
		lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK) \
		-lprotobuf-c -lcrypto

fuzz/fuzz-history: fuzz/fuzz-history.c mux/mux-history.c mux/mux-dp.c \
		mux/mux-flow.c mux/mux-frag.c mux/mux-ids.c mux/maglev.c \
		lib/libslb.la
	$(AM_V_CCLD)$(FUZZ_COMPILE) -o $@ $(filter %.c,$^) $(FUZZ_LINK)
