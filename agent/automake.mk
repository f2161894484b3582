# SPDX-License-Identifier: Apache-2.0
# agent/: slb-agent, the host agent.

sbin_PROGRAMS += agent/slb-agent
agent_slb_agent_SOURCES = agent/slb-agent.c agent/ofctrl.c agent/ofctrl.h \
	agent/desired-flows.c agent/desired-flows.h \
	agent/fastpath.c agent/fastpath.h \
	agent/ct-zones.c agent/ct-zones.h \
	agent/frag-hold.c agent/frag-hold.h \
	agent/frag-needed.c agent/frag-needed.h \
	agent/tcp-reset.c agent/tcp-reset.h \
	agent/monitor.c agent/monitor.h \
	agent/health.c agent/health.h agent/prober.c agent/prober.h \
	agent/snat-usage.c agent/snat-usage.h
agent_slb_agent_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/vswitch-ext
agent_slb_agent_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
agent_slb_agent_LDADD = vswitch-ext/libslbpipeline.la lib/libslb.la $(OVS_LIBS) \
	$(LIBEVENT_LIBS)

man_MANS += agent/slb-agent.8
EXTRA_DIST += agent/slb-agent.8
EXTRA_DIST += agent/slb-agent-scale
EXTRA_DIST += agent/slb-agent-probe-bench
