/* SPDX-License-Identifier: Apache-2.0 */
/* The version that OVS-SLB's programs print. */

#include <config.h>
#include "slb-version.h"

#include <stdio.h>

#include "util.h"

/* Prints, for --version, the program's name, OVS-SLB's version and the
 * Open vSwitch whose library it is built on. */
void
slb_print_version(void)
{
    printf("%s (OVS-SLB) %s\nOpen vSwitch %s\n", program_name,
           PACKAGE_VERSION, OVS_PACKAGE_VERSION);
}
