/* SPDX-License-Identifier: Apache-2.0 */
/* The BGP speaker that slb-mux runs as its own child.
 *
 * Routers send a VIP's flows to every mux whose gobgpd announces it.  A
 * gobgpd that outlived its mux would keep the VIPs announced, and its BGP
 * sessions up, for as long as it runs: a share of every VIP's new flows
 * would go to a mux that is gone.  So slb-mux can start gobgpd itself, as
 * a child that the kernel ends (SIGTERM, through PR_SET_PDEATHSIG) when
 * the mux ends, however it ends, even by SIGKILL.  gobgpd then closes its
 * sessions, and each router withdraws the mux's routes at once, without
 * waiting for the hold time.
 *
 * If gobgpd exits on its own, the mux starts it again (after 1 s, up to
 * 30 s after repeated failures), and the BGP worker, which finds a gobgpd
 * that forgot everything, tells it everything again (see mux-bgp.h).
 *
 * gobgpd speaks BGP with the routers, and needs no privilege for it but
 * binding BGP's port: a mux that runs as root starts it as another user
 * (mux_speaker_user_parse()), with that one capability. */

#ifndef MUX_SPEAKER_H
#define MUX_SPEAKER_H 1

#include "openvswitch/compiler.h"

struct ds;
struct mux_speaker_user;

char *mux_speaker_user_parse(const char *spec, struct mux_speaker_user **)
    OVS_WARN_UNUSED_RESULT;
struct mux_speaker *mux_speaker_start(const char *program,
                                      const char *api_address,
                                      const char *log_file,
                                      struct mux_speaker_user *);
void mux_speaker_run(struct mux_speaker *);
void mux_speaker_wait(const struct mux_speaker *);
void mux_speaker_show(const struct mux_speaker *, struct ds *);
void mux_speaker_destroy(struct mux_speaker *);

#endif /* speaker.h */
