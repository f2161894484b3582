/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of OVS-SLB's Check unit tests. */

#ifndef SLB_CHECK_H
#define SLB_CHECK_H 1

#include <check.h>
#include <stdlib.h>

/* Defines main() to run the suite that SUITE_FUNC() returns and exit with
 * a failure status if any test failed. */
#define SLB_CHECK_MAIN(SUITE_FUNC)                                      \
    int                                                                 \
    main(void)                                                          \
    {                                                                   \
        SRunner *runner = srunner_create(SUITE_FUNC());                 \
        srunner_run_all(runner, CK_NORMAL);                             \
        int failed = srunner_ntests_failed(runner);                     \
        srunner_free(runner);                                           \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                    \
    }

#endif /* slb-check.h */
