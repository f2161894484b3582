/* SPDX-License-Identifier: Apache-2.0 */
/* Names of the pipeline's tables and layers; see pipeline.h. */

#include <config.h>
#include "pipeline.h"

#include <stddef.h>

/* Returns the name of OpenFlow table 'table', or NULL if the pipeline does
 * not use it. */
const char *
slb_table_name(int table)
{
    switch (table) {
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME) case NUMBER: return NAME;
        SLB_TABLES
#undef SLB_TABLE
    default:
        return NULL;
    }
}

const char *
slb_layer_name(enum slb_layer layer)
{
    switch (layer) {
#define SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE)                     \
    case SLB_LAYER_##ENUM: return NAME;
        SLB_LAYERS
#undef SLB_LAYER
    case SLB_N_LAYERS:
    default:
        return NULL;
    }
}
