/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SLB_VERSION_H
#define SLB_VERSION_H 1

void slb_print_version(void);

#endif /* slb-version.h */
