/* SPDX-License-Identifier: Apache-2.0 */
/* slb-ctl: the operator's command-line interface to the SLB database.
 *
 * slb-ctl is the management plane's hand on the SLB database served by
 * ovsdb-server: it adds, deletes and lists virtual networks, hosts, muxes,
 * load balancers and everything inside them, validates every value before
 * it reaches the database, maintains the outbound rules' SNAT port
 * allocations, and can wait until the agents (--wait=hv) or muxes
 * (--wait=mux) have applied a change.  The generic database commands
 * (list, get, set, find, create, destroy, ...) come from OVS's
 * db-ctl-base, as in ovs-vsctl.
 *
 * All commands of one invocation run in one transaction: an invalid value
 * in any of them aborts the whole invocation with a one-line error and an
 * exit status of 1, and the database stays as it was. */

#include <config.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "command-line.h"
#include "db-ctl-base.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "lib/hosts.h"
#include "lib/lb.h"
#include "lib/slb-idl.h"
#include "daemon.h"
#include "dp-packet.h"
#include "flow.h"
#include "jsonrpc.h"
#include "mux/mux-config.h"
#include "mux/mux-dp.h"
#include "unixctl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-data.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "partial-read.h"
#include "rbac.h"
#include "redirect.h"
#include "process.h"
#include "random.h"
#include "slb-parse.h"
#include "slb-version.h"
#include "snat.h"
#include "sort.h"
#include "stream-ssl.h"
#include "stream.h"
#include "svec.h"
#include "table.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(slb_ctl);

/* The connection to the database and the transaction under way, which an
 * early exit closes (see slb_ctl_exit()). */
static struct ovsdb_idl *the_idl;
static struct ovsdb_idl_txn *the_idl_txn;

/* --db: the database to talk to. */
static char *db;

/* --leader-only, --no-leader-only: of a clustered database, talk only to
 * the leader, whose contents are never behind.  Without it, a follower
 * serves reads and passes writes on to the leader. */
static int leader_only = true;

/* --oneline: print each command's output on one line. */
static bool oneline;

/* --dry-run: do not commit the transaction. */
static bool dry_run;

/* --wait: after committing, wait for these to apply the change. */
enum wait_type {
    WAIT_NONE,
    WAIT_HV,                    /* Every host's slb-agent. */
    WAIT_MUX,                   /* Every slb-mux. */
};
static enum wait_type wait_type = WAIT_NONE;

/* --timeout: seconds to wait in all, 0 for no limit. */
static unsigned int timeout;

/* --batch: a file of more commands, one a line, or "-" for stdin. */
static char *batch_file;

/* Format for the output of the generic table commands. */
static struct table_style table_style = TABLE_STYLE_DEFAULT;

/* VMs by CA.  The IDL keeps it up to date through the transaction, so
 * that a transaction of thousands of backend-add commands checks each new
 * CA against the few VMs that share it, not against all. */
static struct ovsdb_idl_index *vms_by_ca;

/* Indexes for the checks of new frontends and rules: frontends by VIP,
 * and the rules that claim ports of a frontend. */
static struct ovsdb_idl_index *frontends_by_vip;
static struct ovsdb_idl_index *lb_rules_by_frontend;
static struct ovsdb_idl_index *nat_rules_by_frontend;

/* The health rows of a backend VM, for "show". */
static struct ovsdb_idl_index *health_by_vm;
static struct ovsdb_idl_index *bindings_by_vm;
static struct ovsdb_idl_index *lb_rules_by_pool;

/* The tables whose rows slb-ctl finds by name, and what to call a row in
 * an error message. */
#define NAMED_TABLES                                                    \
    NAMED_TABLE(vnet, "virtual network")                                \
    NAMED_TABLE(host, "host")                                           \
    NAMED_TABLE(mux, "mux")                                             \
    NAMED_TABLE(load_balancer, "load balancer")                         \
    NAMED_TABLE(frontend, "frontend")                                   \
    NAMED_TABLE(backend_pool, "backend pool")                           \
    NAMED_TABLE(probe, "probe")                                         \
    NAMED_TABLE(lb_rule, "load-balancing rule")                         \
    NAMED_TABLE(inbound_nat_rule, "inbound NAT rule")                   \
    NAMED_TABLE(inbound_nat_pool, "inbound NAT pool")                   \
    NAMED_TABLE(outbound_rule, "outbound rule")                         \
    NAMED_TABLE(acl, "ACL")                                             \
    NAMED_TABLE(meter, "meter")                                         \
    NAMED_TABLE(host_status, "host status")                             \
    NAMED_TABLE(mux_status, "mux status")

/* An IDL index by name for each of them. */
#define NAMED_TABLE(TABLE, WHAT) static struct ovsdb_idl_index *TABLE##_by_name;
NAMED_TABLES
#undef NAMED_TABLE

static void slb_ctl_cmd_init(void);
static void keep_trying(struct ovsdb_idl *);
static void parse_options(int argc, char *argv[], struct shash *local);
static bool do_slb_ctl(const char *args, struct ctl_command *, size_t n,
                       struct ovsdb_idl *);
static void wait_for_cfg(struct ovsdb_idl *, int64_t next_cfg);
OVS_NO_RETURN static void usage(void);

static void read_batch(const char *file_name, struct svec *words);
static void check_printable(const char *arg, const char *where);

/* What the commands read.
 *
 * At 10,000 VIPs the whole database takes seconds to send and to read, so
 * slb-ctl reads only what its commands need, in one of three ways:
 *
 *   - The generic database commands (get, set, list, find, ...) and
 *     "init" and "sync" name their tables and columns in their
 *     prerequisites functions, as in ovs-vsctl, and read those whole.
 *
 *   - The commands that add to a load balancer (lb-add, frontend-add,
 *     pool-add, backend-add, probe-add, lb-rule-add, inbound-nat-add) name
 *     the rows they need, through their "reads" functions: the rows their
 *     arguments name, and the rows their checks look at, such as the rules
 *     that claim ports of the same frontend.  A partial read (see
 *     lib/partial-read.h) adds every row those refer to.  The small tables
 *     (the global row, networks, hosts, muxes and status rows) are read
 *     whole.  A reads function runs again after each round, with the rows
 *     read so far, until a round adds nothing.
 *
 *   - Any other command, or a mix of the second kind with generic
 *     commands on any but the small tables (as "set SLB_Global . nb_cfg=5"
 *     is), reads everything.
 *
 * The second kind finds rows through the same indexes as the third, which
 * then index only what was read: a reads function must ask for every row
 * that its command looks for. */
enum read_mode {
    READ_COLUMNS,               /* Generic commands, init, sync. */
    READ_ROWS,                  /* Commands with a "reads" function. */
    READ_EVERYTHING,
};
static enum read_mode read_mode;

/* In READ_ROWS, what the commands have asked for. */
static struct partial_read reads;

static const struct ctl_command_syntax slb_commands[];

/* Returns true if 'syntax' is one of slb-ctl's own commands, whose
 * prerequisites function, if it has one, is its "reads" function. */
static bool
is_slb_command(const struct ctl_command_syntax *syntax)
{
    for (const struct ctl_command_syntax *p = slb_commands; p->name; p++) {
        if (p == syntax) {
            return true;
        }
    }
    return false;
}

static void pre_global_only(struct ctl_context *);
static void pre_init(struct ctl_context *);
static void pre_connection(struct ctl_context *);
static void pre_ssl(struct ctl_context *);
static bool reads_small_tables(const struct ctl_command_syntax *);
static bool is_small_table(const struct ovsdb_idl_table_class *);

/* Returns the class of the table named 'name', in any case, or NULL. */
static const struct ovsdb_idl_table_class *
table_class(const char *name)
{
    for (size_t i = 0; i < SLBREC_N_TABLES; i++) {
        if (!strcasecmp(slbrec_table_classes[i].name, name)) {
            return &slbrec_table_classes[i];
        }
    }
    return NULL;
}

/* Returns the table that generic command 'c' names, or NULL.  (Every
 * generic command but "comment", which reads nothing, names its table
 * first.) */
static const struct ovsdb_idl_table_class *
command_table(const struct ctl_command *c)
{
    return c->argc > 1 ? table_class(c->argv[1]) : NULL;
}

/* Returns true if generic command 'c' works on a table that READ_ROWS
 * reads whole. */
static bool
on_small_table(const struct ctl_command *c)
{
    const struct ovsdb_idl_table_class *tc = command_table(c);
    return tc && is_small_table(tc);
}

/* Returns true if generic command 'c' may write a column that the "hosts"
 * columns follow from (see lib/hosts.h).  A column named other than in
 * full, or a row created or destroyed in a table that READ_ROWS reads in
 * part, counts as such. */
static bool
may_move_hosts(const struct ctl_command *c)
{
    const struct ovsdb_idl_table_class *tc = command_table(c);
    if (c->syntax->mode != RW) {
        return false;
    } else if (!tc) {
        return true;
    }

    const char *name = c->syntax->name;
    int n_columns = (!strcmp(name, "set") || !strcmp(name, "clear")
                     ? c->argc - 3
                     : !strcmp(name, "add") || !strcmp(name, "remove")
                     ? MIN(c->argc - 3, 1)
                     : -1);
    if (n_columns < 0) {
        return !is_small_table(tc) || tc == &slbrec_table_host;
    }
    for (int i = 3; i < 3 + n_columns; i++) {
        const char *arg = c->argv[i];
        size_t len = strcspn(arg, ":=");
        const struct ovsdb_idl_column *column = NULL;
        for (size_t j = 0; j < tc->n_columns && !column; j++) {
            if (strlen(tc->columns[j].name) == len
                && !strncmp(tc->columns[j].name, arg, len)) {
                column = &tc->columns[j];
            }
        }
        if (!column || slb_hosts_follow(column)) {
            return true;
        }
    }
    return false;
}

/* Returns true if generic command 'c' destroys rows of a table that is not
 * a root, which must then be checked against every reference to them (see
 * check_destroyed_rows()). */
static bool
destroys_referenced_rows(const struct ctl_command *c)
{
    const struct ovsdb_idl_table_class *tc = command_table(c);
    return tc && !tc->is_root && !strcmp(c->syntax->name, "destroy");
}

/* Returns how the 'n' 'commands' read the database.  A generic command
 * that may change which hosts read which rows reads everything, so that
 * the "hosts" columns can be worked out again for every row. */
static enum read_mode
choose_read_mode(const struct ctl_command *commands, size_t n)
{
    bool generic = false, rows = false;
    for (size_t i = 0; i < n; i++) {
        const struct ctl_command_syntax *syntax = commands[i].syntax;
        if (!syntax->prerequisites) {
            if (syntax->run) {
                return READ_EVERYTHING;
            }
        } else if (!is_slb_command(syntax)) {
            if (may_move_hosts(&commands[i])
                || destroys_referenced_rows(&commands[i])) {
                return READ_EVERYTHING;
            }
            generic |= !on_small_table(&commands[i]);
        } else if (!reads_small_tables(syntax)) {
            rows = true;
        }
    }
    return (generic && rows ? READ_EVERYTHING
            : rows ? READ_ROWS
            : READ_COLUMNS);
}

/* Returns true if one of the 'n' 'commands' reads the server's tables. */
static bool
reads_server_tables(const struct ctl_command *commands, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ctl_command *c = &commands[i];
        void (*pre)(struct ctl_context *) = c->syntax->prerequisites;
        if (pre == pre_init || pre == pre_connection || pre == pre_ssl
            || (!is_slb_command(c->syntax) && command_table(c)
                && slb_is_server_table(command_table(c)))) {
            return true;
        }
    }
    return false;
}

/* Makes 'idl' replicate every column of table 'tc', but those that refer
 * to the server's tables (which would bring those along). */
static void
add_table(struct ovsdb_idl *idl, const struct ovsdb_idl_table_class *tc)
{
    ovsdb_idl_add_table(idl, tc);
    for (size_t i = 0; i < tc->n_columns; i++) {
        const struct ovsdb_idl_column *column = &tc->columns[i];
        if (column != &slbrec_slb_global_col_connections
            && column != &slbrec_slb_global_col_ssl) {
            ovsdb_idl_add_column(idl, column);
        }
    }
}

/* Calls the prerequisites function of command 'c' on 'idl'. */
static void
call_prerequisites(struct ctl_command *c, struct ovsdb_idl *idl)
{
    struct ctl_context ctx;
    ds_init(&c->output);
    c->table = NULL;
    ctl_context_init(&ctx, c, idl, NULL, NULL, NULL);
    c->syntax->prerequisites(&ctx);
    if (ctx.error) {
        ctl_fatal("%s", ctx.error);
    }
    ctl_context_done(&ctx, c);
    ds_destroy(&c->output);
}

/* Makes 'idl' replicate what the 'n' 'commands' read, and the rows that
 * every invocation reads: the global row, which a write increments, and
 * the rows that --wait waits on. */
static void
run_prerequisites(struct ctl_command *commands, size_t n,
                  struct ovsdb_idl *idl)
{
    add_table(idl, &slbrec_table_slb_global);
    if (wait_type == WAIT_HV) {
        ovsdb_idl_add_column(idl, &slbrec_host_col_name);
        ovsdb_idl_add_column(idl, &slbrec_host_status_col_name);
        ovsdb_idl_add_column(idl, &slbrec_host_status_col_nb_cfg);
    } else if (wait_type == WAIT_MUX) {
        ovsdb_idl_add_column(idl, &slbrec_mux_col_name);
        ovsdb_idl_add_column(idl, &slbrec_mux_status_col_name);
        ovsdb_idl_add_column(idl, &slbrec_mux_status_col_nb_cfg);
    }
    for (struct ctl_command *c = commands; c < &commands[n]; c++) {
        if (c->syntax->prerequisites) {
            call_prerequisites(c, idl);
        }
    }
}

/* The tables that READ_ROWS reads in part: the rest are small. */
static const struct ovsdb_idl_table_class *const partial_tables[] = {
    &slbrec_table_load_balancer, &slbrec_table_frontend,
    &slbrec_table_backend_pool, &slbrec_table_vm,
    &slbrec_table_probe, &slbrec_table_lb_rule,
    &slbrec_table_inbound_nat_rule, &slbrec_table_outbound_rule,
    &slbrec_table_snat_allocation,
};

/* In READ_ROWS, slb-ctl replicates every table but those that no command
 * of that kind reads: ACLs, meters, health rows and the server's own.
 *
 * Leaving them out also makes the server's monitor for READ_ROWS one of
 * its own, which matters: the server (ovsdb-server 3.1 at least) shares a
 * monitor among the clients that ask for the same columns, and adds to it
 * the columns that their conditions name, such as "_uuid", even while
 * it holds changes recorded without them, which then crash it when it
 * evaluates the new condition on them.  The conditions of a partial read
 * name "_uuid" from the first request on (partial_read_start()), so a
 * monitor that only clients like this one share has that column from the
 * start. */
static bool
rows_replicate(const struct ovsdb_idl_table_class *tc)
{
    return (tc != &slbrec_table_acl && tc != &slbrec_table_meter
            && tc != &slbrec_table_backend_health
            && tc != &slbrec_table_vm_binding && !slb_is_server_table(tc));
}

static bool
is_replicated(const struct ovsdb_idl_table_class *tc)
{
    return read_mode != READ_ROWS || rows_replicate(tc);
}

/* Returns true if READ_ROWS reads table 'tc' whole. */
static bool
is_small_table(const struct ovsdb_idl_table_class *tc)
{
    for (size_t i = 0; i < ARRAY_SIZE(partial_tables); i++) {
        if (tc == partial_tables[i]) {
            return false;
        }
    }
    return rows_replicate(tc);
}

static void
add_tables_for_rows(struct ovsdb_idl *idl)
{
    for (size_t i = 0; i < SLBREC_N_TABLES; i++) {
        if (is_replicated(&slbrec_table_classes[i])) {
            add_table(idl, &slbrec_table_classes[i]);
        }
    }
}

/* In READ_ROWS, runs the "reads" functions of the 'n' 'commands' on what
 * 'idl' holds so far.  Returns true if it holds all that they need. */
static bool
read_rows(struct ctl_command *commands, size_t n, struct ovsdb_idl *idl)
{
    partial_read_start(&reads);
    for (struct ctl_command *c = commands; c < &commands[n]; c++) {
        call_prerequisites(c, idl);
    }
    if (!partial_read_finish(&reads)) {
        return false;
    }
    VLOG_DBG("read the rows of %"PRIuSIZE" clauses, in %"PRIuSIZE" rounds",
             reads.n_clauses, reads.n_rounds);
    return true;
}

/* Adds to what READ_ROWS reads the rows of TABLE whose COLUMN compares to
 * the rest of the arguments by FUNCTION, as for
 * slbrec_TABLE_add_clause_COLUMN(). */
#define READ(TABLE, COLUMN, FUNCTION, ...)                              \
    do {                                                                \
        struct ovsdb_idl_condition *cond_                               \
            = partial_read_cond(&reads, &slbrec_table_##TABLE);         \
        if (cond_) {                                                    \
            slbrec_##TABLE##_add_clause_##COLUMN(cond_, FUNCTION,       \
                                                 __VA_ARGS__);          \
        }                                                               \
    } while (0)

/* Creates the indexes through which the commands look rows up. */
static void
create_indexes(struct ovsdb_idl *idl)
{
    vms_by_ca = ovsdb_idl_index_create1(idl, &slbrec_vm_col_ca);
    frontends_by_vip = ovsdb_idl_index_create1(idl, &slbrec_frontend_col_vip);
    lb_rules_by_frontend = ovsdb_idl_index_create1(
        idl, &slbrec_lb_rule_col_frontend);
    nat_rules_by_frontend = ovsdb_idl_index_create1(
        idl, &slbrec_inbound_nat_rule_col_frontend);
    lb_rules_by_pool = ovsdb_idl_index_create1(idl,
                                               &slbrec_lb_rule_col_pool);
    if (is_replicated(&slbrec_table_backend_health)) {
        health_by_vm = ovsdb_idl_index_create1(
            idl, &slbrec_backend_health_col_vm);
    }
    if (is_replicated(&slbrec_table_vm_binding)) {
        bindings_by_vm = ovsdb_idl_index_create1(
            idl, &slbrec_vm_binding_col_vm);
    }
#define NAMED_TABLE(TABLE, WHAT)                                        \
    if (is_replicated(&slbrec_table_##TABLE)) {                         \
        TABLE##_by_name = ovsdb_idl_index_create1(                      \
            idl, &slbrec_##TABLE##_col_name);                           \
    }
    NAMED_TABLES
#undef NAMED_TABLE
}

int
main(int argc, char *argv[])
{
    struct ctl_command *commands;
    struct shash local_options;
    size_t n_commands;

    set_program_name(argv[0]);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels_from_string_assert("reconnect:warn");
    /* The IDL warns of a transaction that the server refused, which
     * slb-ctl reports itself, in one line. */
    vlog_set_levels_from_string_assert("ovsdb_idl:console:err");

    slb_ctl_cmd_init();

    for (int i = 1; i < argc; i++) {
        check_printable(argv[i], "");
    }
    char *args = process_escape_args(argv);
    shash_init(&local_options);
    parse_options(argc, argv, &local_options);

    /* The commands: those of the command line, then those of --batch. */
    struct svec words = SVEC_EMPTY_INITIALIZER;
    for (int i = optind; i < argc; i++) {
        svec_add(&words, argv[i]);
    }
    if (batch_file) {
        read_batch(batch_file, &words);
    }
    svec_terminate(&words);
    char *error = ctl_parse_commands(words.n, words.names, &local_options,
                                     &commands, &n_commands);
    if (error) {
        ctl_fatal("%s", error);
    }
    if (wait_type != WAIT_NONE && !ctl_might_write_to_db(commands,
                                                          n_commands)) {
        wait_type = WAIT_NONE;
    }

    long long int deadline = timeout ? time_msec() + timeout * 1000LL
                                     : LLONG_MAX;

    read_mode = choose_read_mode(commands, n_commands);
    /* One server either answers or not; of a cluster's, one may be down
     * and another not lead yet, so slb-ctl tries them until --timeout. */
    bool retry = strchr(db, ',') != NULL;
    struct ovsdb_idl *idl = ovsdb_idl_create(
        db, &slbrec_idl_class, read_mode == READ_EVERYTHING, retry);
    the_idl = idl;
    ovsdb_idl_set_leader_only(idl, leader_only);
    if (read_mode == READ_COLUMNS) {
        run_prerequisites(commands, n_commands, idl);
    } else {
        if (read_mode == READ_ROWS) {
            add_tables_for_rows(idl);
        } else if (!reads_server_tables(commands, n_commands)) {
            slb_omit_server_tables(idl);
        }
        create_indexes(idl);
    }
    if (read_mode == READ_ROWS) {
        /* The first conditions go with the first request. */
        partial_read_init(&reads, idl, &slbrec_idl_class, partial_tables,
                          ARRAY_SIZE(partial_tables));
        read_rows(commands, n_commands, idl);
    }

    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    bool changed = false;
    for (;;) {
        ovsdb_idl_run(idl);
        if (!ovsdb_idl_is_alive(idl)) {
            int retval = ovsdb_idl_get_last_error(idl);
            ctl_fatal("%s: database connection failed (%s)",
                      db, ovs_retval_to_string(retval));
        }

        /* Run the commands on every change to what the IDL holds, and in
         * READ_ROWS, only once it holds all that they need. */
        if (seqno != ovsdb_idl_get_seqno(idl)) {
            seqno = ovsdb_idl_get_seqno(idl);
            changed = true;
        }
        if (changed && read_mode == READ_ROWS) {
            changed = !read_rows(commands, n_commands, idl);
            if (!changed && do_slb_ctl(args, commands, n_commands, idl)) {
                break;
            }
        } else if (changed) {
            changed = false;
            if (do_slb_ctl(args, commands, n_commands, idl)) {
                break;
            }
        }

        if (time_msec() >= deadline) {
            ctl_fatal("%s: timed out after %u s waiting for the database",
                      db, timeout);
        }
        if (seqno == ovsdb_idl_get_seqno(idl)) {
            keep_trying(idl);
            ovsdb_idl_wait(idl);
            poll_timer_wait_until(deadline);
            poll_block();
        }
    }

    if (read_mode == READ_ROWS) {
        partial_read_destroy(&reads);
    }
    ovsdb_idl_destroy(idl);
    shash_destroy(&local_options);
    svec_destroy(&words);
    free(args);
    return EXIT_SUCCESS;
}

/* Exits with an error if 'arg', a command-line argument or a word of a
 * batch line that 'where' names, holds a control character.  No name,
 * address or value needs one, and an error message that quoted it would
 * write it to the operator's terminal: the message shows it escaped. */
static bool
is_printable(const char *arg)
{
    for (const char *p = arg; *p; p++) {
        if (iscntrl((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

static void
check_printable(const char *arg, const char *where)
{
    if (is_printable(arg)) {
        return;
    }

    struct ds escaped = DS_EMPTY_INITIALIZER;
    slb_put_escaped(&escaped, arg);
    ctl_fatal("%sargument \"%s\" holds a control character", where,
              ds_cstr(&escaped));
}

/* Splits 'line' into words at white space, as a shell would with single
 * and double quotes and backslashes, and appends them to 'words'.  Returns
 * NULL, or an error message that the caller frees. */
static char *
split_words(const char *line, struct svec *words)
{
    struct ds word = DS_EMPTY_INITIALIZER;
    const char *p = line;
    for (;;) {
        while (isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            break;
        }
        int quote = 0;
        ds_clear(&word);
        for (; *p && (quote || !isspace((unsigned char) *p)); p++) {
            if (*p == quote) {
                quote = 0;
            } else if (!quote && (*p == '\'' || *p == '"')) {
                quote = *p;
            } else if (*p == '\\' && quote != '\'') {
                if (!*++p) {
                    ds_destroy(&word);
                    return xstrdup("ends in a backslash");
                }
                ds_put_char(&word, *p);
            } else {
                ds_put_char(&word, *p);
            }
        }
        if (quote) {
            ds_destroy(&word);
            return xasprintf("has no closing %c", quote);
        }
        svec_add(words, ds_cstr(&word));
    }
    ds_destroy(&word);
    return NULL;
}

/* Appends to 'words' the commands in 'file_name' ("-" for standard input),
 * one a line, each after a "--": a transaction too large for a command
 * line.  Blank lines and lines that start with "#" are skipped; a line may
 * itself start with "--". */
static void
read_batch(const char *file_name, struct svec *words)
{
    FILE *file = !strcmp(file_name, "-") ? stdin : fopen(file_name, "r");
    if (!file) {
        ctl_fatal("--batch: %s: %s", file_name, ovs_strerror(errno));
    }

    struct ds line = DS_EMPTY_INITIALIZER;
    struct svec line_words = SVEC_EMPTY_INITIALIZER;
    int line_number = 0;
    while (!ds_get_line(&line, file)) {
        line_number++;
        const char *text = ds_cstr(&line);
        text += strspn(text, " \t");
        if (!*text || *text == '#') {
            continue;
        }
        svec_clear(&line_words);
        char *error = split_words(text, &line_words);
        if (error) {
            ctl_fatal("--batch: %s, line %d: %s", file_name, line_number,
                      error);
        }
        for (size_t i = 0; i < line_words.n; i++) {
            if (!is_printable(line_words.names[i])) {
                char *where = xasprintf("--batch: %s, line %d: ", file_name,
                                        line_number);
                check_printable(line_words.names[i], where);
            }
        }
        size_t first = line_words.n && !strcmp(line_words.names[0], "--");
        if (first < line_words.n) {
            if (words->n) {
                svec_add(words, "--");
            }
            for (size_t i = first; i < line_words.n; i++) {
                svec_add(words, line_words.names[i]);
            }
        }
    }
    if (ferror(file)) {
        ctl_fatal("--batch: %s: read error", file_name);
    }
    if (file != stdin) {
        fclose(file);
    }
    svec_destroy(&line_words);
    ds_destroy(&line);
}

static char *
default_db(void)
{
    const char *env = getenv("SLB_DB");
    return (env && env[0]
            ? xstrdup(env)
            : xasprintf("unix:%s/slb_db.sock", ovs_rundir()));
}

static void
parse_options(int argc, char *argv[], struct shash *local_options)
{
    enum {
        OPT_DB = UCHAR_MAX + 1,
        OPT_ONELINE,
        OPT_NO_SYSLOG,
        OPT_DRY_RUN,
        OPT_WAIT,
        OPT_LOCAL,
        OPT_COMMANDS,
        OPT_OPTIONS,
        OPT_BATCH,
        VLOG_OPTION_ENUMS,
        TABLE_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option global_long_options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"no-syslog", no_argument, NULL, OPT_NO_SYSLOG},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"leader-only", no_argument, &leader_only, true},
        {"no-leader-only", no_argument, &leader_only, false},
        {"oneline", no_argument, NULL, OPT_ONELINE},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"commands", no_argument, NULL, OPT_COMMANDS},
        {"options", no_argument, NULL, OPT_OPTIONS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"version", no_argument, NULL, 'V'},
        VLOG_LONG_OPTIONS,
        TABLE_LONG_OPTIONS,
        STREAM_SSL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const int n_global_long_options = ARRAY_SIZE(global_long_options) - 1;

    char *tmp = ovs_cmdl_long_options_to_short_options(global_long_options);
    char *short_options = xasprintf("+%s", tmp);
    free(tmp);

    /* getopt_long() parses the global options and, as OPT_LOCAL, the
     * options of the first command, so that "slb-ctl --may-exist vnet-add"
     * works as well as "slb-ctl vnet-add --may-exist". */
    struct option *options = xmemdup(global_long_options,
                                     sizeof global_long_options);
    size_t allocated_options = ARRAY_SIZE(global_long_options);
    size_t n_options = n_global_long_options;
    ctl_add_cmd_options(&options, &n_options, &allocated_options, OPT_LOCAL);

    for (;;) {
        int idx;
        int c = getopt_long(argc, argv, short_options, options, &idx);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_DB:
            free(db);
            db = xstrdup(optarg);
            break;

        case OPT_ONELINE:
            oneline = true;
            break;

        case OPT_NO_SYSLOG:
            vlog_set_levels(&this_module, VLF_SYSLOG, VLL_WARN);
            break;

        case OPT_DRY_RUN:
            dry_run = true;
            break;

        case OPT_BATCH:
            free(batch_file);
            batch_file = xstrdup(optarg);
            break;

        case OPT_WAIT:
            if (!strcmp(optarg, "none")) {
                wait_type = WAIT_NONE;
            } else if (!strcmp(optarg, "hv")) {
                wait_type = WAIT_HV;
            } else if (!strcmp(optarg, "mux")) {
                wait_type = WAIT_MUX;
            } else {
                ctl_fatal("invalid --wait \"%s\": expected none, hv or mux",
                          optarg);
            }
            break;

        case OPT_LOCAL: {
            char *name = xasprintf("--%s", options[idx].name);
            if (shash_find(local_options, name)) {
                ctl_fatal("'%s' option specified multiple times", name);
            }
            shash_add_nocopy(local_options, name, nullable_xstrdup(optarg));
            break;
        }

        case 'h':
            usage();

        case OPT_COMMANDS:
            ctl_print_commands();
            /* fall through */

        case OPT_OPTIONS:
            ctl_print_options(global_long_options);
            /* fall through */

        case 'V':
            slb_print_version();
            printf("DB Schema %s\n", slbrec_get_db_version());
            exit(EXIT_SUCCESS);

        case 't':
            if (!str_to_uint(optarg, 10, &timeout) || !timeout) {
                ctl_fatal("invalid --timeout \"%s\": expected a positive "
                          "number of seconds", optarg);
            }
            break;

        VLOG_OPTION_HANDLERS
        TABLE_OPTION_HANDLERS(&table_style)
        STREAM_SSL_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);

        case 0:
            break;

        default:
            abort();
        }
    }
    free(short_options);

    if (!db) {
        db = default_db();
    }

    for (size_t i = n_global_long_options; options[i].name; i++) {
        free(CONST_CAST(char *, options[i].name));
    }
    free(options);
}

static void
usage(void)
{
    printf("\
%s: OVS-SLB load balancer database utility\n\
usage: %s [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...\n\
       %s [OPTIONS] --batch=FILE [COMMAND [ARG...] [-- ...]]\n\
\n\
General commands:\n\
  init                          create the global row, if it is missing,\n\
                                and the daemons' RBAC roles\n\
  show                          print an overview of the configuration\n\
  [--mux=MUX] [--host-appctl=TARGET] [--bridge=BRIDGE]\n\
      trace PROTOCOL CLIENT:PORT VIP:PORT\n\
                                what the muxes and the backend's host do\n\
                                with a new flow's first packet\n\
  sync                          with --wait, wait for earlier changes\n\
  hosts-update                  work out which hosts read each row again\n\
\n\
The database server (with --remote=db:SLB,SLB_Global,connections):\n\
  [--inactivity-probe=MSECS] set-connection [read-only|read-write]\n\
      [role=ROLE] TARGET...     listen on (or connect to) each TARGET\n\
  get-connection                print the server's remotes\n\
  del-connection                delete the server's remotes\n\
  [--bootstrap] set-ssl PRIVATE-KEY CERTIFICATE CA-CERT [PROTOCOLS [CIPHERS]]\n\
                                set the server's SSL configuration\n\
  get-ssl                       print the server's SSL configuration\n\
  del-ssl                       delete the server's SSL configuration\n\
\n\
Virtual networks:\n\
  vnet-add VNET VNI [PREFIX...] create a virtual network\n\
  vnet-del VNET                 delete a virtual network\n\
  vnet-list                     list virtual networks\n\
\n\
Hosts and muxes:\n\
  [--gateway-mac=MAC] host-add HOST PA [GATEWAY]\n\
                                register a host by its provider address\n\
  host-del HOST\n\
  host-list\n\
  [--hold-time=SECS] [--nexthop-mac=MAC] [--bgp-nexthop-ipv6=ADDR]\n\
      mux-add MUX PA AS ROUTER-ID\n\
  mux-del MUX\n\
  mux-list\n\
  [--password=PASSWORD] mux-peer-add MUX ADDRESS AS\n\
  mux-peer-del MUX ADDRESS\n\
  mux-peer-list MUX\n\
\n\
Load balancers (a command's options precede its name):\n\
  lb-add LB\n\
  lb-del LB                     delete LB and everything in it\n\
  lb-list\n\
  [--internal --vnet=VNET] frontend-add LB FRONTEND VIP\n\
  frontend-del FRONTEND\n\
  frontend-list [LB]\n\
  pool-add LB POOL VNET\n\
  pool-del POOL\n\
  pool-list [LB]\n\
  [--mac=MAC] [--iface-id=ID] vm-add VNET CA HOST\n\
                                a VM of VNET on HOST, as a port of its\n\
                                own, whether or not a backend\n\
  vm-del VNET CA\n\
  vm-list [VNET]\n\
  [--vnet=VNET] [--mac=MAC] [--iface-id=ID] [--weight=N]\n\
      [--admin-state=up|down|none] backend-add POOL CA HOST\n\
  backend-admin POOL CA up|down|none\n\
                                above probes: new flows, none, as probed\n\
  backend-weight POOL CA WEIGHT\n\
                                share of new flows, 0 (drained) to 1000\n\
  backend-del POOL CA\n\
  backend-list [POOL]\n\
  [--path=PATH] [--interval=SECS] [--probe-timeout=SECS] [--up=N]\n\
      [--down=N] probe-add LB PROBE tcp|http|https PORT\n\
  probe-del PROBE\n\
  probe-list [LB]\n\
  [--probe=PROBE] [--distribution=5-tuple|3-tuple|2-tuple]\n\
      [--floating-ip] [--idle-timeout=SECS] [--tcp-reset]\n\
      [--no-healthy-backends=all-probed-down|all-probed-up]\n\
      lb-rule-add LB RULE FRONTEND tcp|udp|all PORT BACKEND-PORT POOL\n\
  lb-rule-del RULE\n\
  lb-rule-list [LB]\n\
  [--floating-ip] [--idle-timeout=SECS]\n\
      inbound-nat-add LB RULE FRONTEND tcp|udp PORT POOL CA BACKEND-PORT\n\
  inbound-nat-del RULE\n\
  inbound-nat-list [LB]\n\
  [--protocol=tcp|udp|all] [--ports-per-instance=N|auto]\n\
      [--idle-timeout=SECS] outbound-rule-add LB RULE FRONTEND[,...] POOL\n\
  outbound-rule-del RULE\n\
  outbound-rule-list [LB]\n\
  snat-list [RULE]              list SNAT port allocations\n\
\n\
VM policy:\n\
  [--protocol=tcp|udp|icmp] [--src=PREFIX] [--dst=PREFIX]\n\
      [--src-port=P[-Q]] [--dst-port=P[-Q]]\n\
      acl-add ACL IFACE-ID from-vm|to-vm PRIORITY allow|deny\n\
  acl-del ACL\n\
  acl-list [IFACE-ID]\n\
  [--burst=KBITS] meter-add METER IFACE-ID from-vm|to-vm KBPS\n\
  meter-del METER\n\
  meter-list [IFACE-ID]\n\
  health-list                   list whether each backend takes new flows\n\
\n\
Every -add takes --may-exist and every -del takes --if-exists.\n\
\n\
%s\
%s\
\n\
Options:\n\
  --db=DATABASE               connect to DATABASE\n\
                              (default: $SLB_DB or unix:%s/slb_db.sock),\n\
                              or to one of a cluster's: REMOTE,REMOTE...\n\
  --no-leader-only            of a cluster, accept a follower too\n\
  --wait=none|hv|mux          after a change, wait for every host (hv) or\n\
                              every mux to apply it\n\
  -t, --timeout=SECS          give up after SECS seconds\n\
  --dry-run                   do not commit changes to the database\n\
  --batch=FILE                also run the commands in FILE (- for stdin),\n\
                              one a line, in the same transaction\n\
  --oneline                   print exactly one line of output per command\n",
           program_name, program_name, program_name, ctl_get_db_cmd_usage(),
           ctl_list_db_tables_usage(), ovs_rundir());
    table_usage();
    vlog_usage();
    printf("\
  --no-syslog             equivalent to --verbose=slb_ctl:syslog:warn\n");
    stream_usage("database", true, true, false);
    printf("\n\
Other options:\n\
  -h, --help                  display this help message\n\
  -V, --version               display version information\n");
    exit(EXIT_SUCCESS);
}

/* Running the commands. */

/* Finds the global row, creating it (with a random hash seed) if this is
 * the first change ever made to the database. */
static const struct slbrec_slb_global *
slb_global(struct ovsdb_idl *idl, struct ovsdb_idl_txn *txn)
{
    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    if (!global && txn) {
        struct slbrec_slb_global *g = slbrec_slb_global_insert(txn);
        int64_t seed = random_uint32();
        slbrec_slb_global_set_hash_seed(g, seed);
        char *key = slb_redirect_key_generate();
        slbrec_slb_global_update_options_setkey(g, "redirect-key", key);
        free(key);
        global = g;
    }
    return global;
}

/* Runs 'commands' once against the current contents of 'idl'.  Returns
 * true when done, false if the transaction must be retried on newer
 * contents. */
/* Returns the server's error 'error', a JSON object with "error" and
 * "details" members, as "ERROR: DETAILS", or else as it is.  The caller
 * frees it. */
static char *
txn_error_message(const char *error)
{
    struct json *json = json_from_string(error);
    const struct json *kind = (json->type == JSON_OBJECT
                               ? shash_find_data(json_object(json), "error")
                               : NULL);
    const struct json *details = (json->type == JSON_OBJECT
                                  ? shash_find_data(json_object(json),
                                                    "details")
                                  : NULL);
    char *message = (kind && kind->type == JSON_STRING
                     && details && details->type == JSON_STRING
                     ? xasprintf("the database refused the transaction: "
                                 "%s: %s", json_string(kind),
                                 json_string(details))
                     : xasprintf("the database refused the transaction: %s",
                                 error));
    json_destroy(json);
    return message;
}

/* Returns "TABLE \"NAME\"" for 'row' of table 'tc', or "TABLE row UUID"
 * if the table has no names, also for a row that the transaction deletes.
 * The caller frees it. */
static char *
describe_row(const struct ovsdb_idl_table_class *tc,
             const struct ovsdb_idl_row *row)
{
    for (size_t i = 0; i < tc->n_columns; i++) {
        const struct ovsdb_idl_column *column = &tc->columns[i];
        if (!strcmp(column->name, "name")
            && column->type.key.type == OVSDB_TYPE_STRING) {
            const struct ovsdb_datum *d = (row->new_datum
                                           ? ovsdb_idl_read(row, column)
                                           : &row->old_datum[i]);
            if (d->n) {
                return xasprintf("%s \"%s\"", tc->name,
                                 json_string(d->keys[0].s));
            }
        }
    }
    return xasprintf("%s row "UUID_FMT, tc->name, UUID_ARGS(&row->uuid));
}

/* The IDL never asks the server to delete a row of a table that is not a
 * root: the server deletes such a row by itself once no row refers to it
 * any more.  "destroy" of such a row that another row still refers to
 * would therefore do nothing, and succeed.  Exits with an error that names
 * the first row in the transaction's outcome that still refers, strongly,
 * to a row that the transaction destroys. */
static void
check_destroyed_rows(struct ovsdb_idl *idl)
{
    for (size_t i = 0; i < SLBREC_N_TABLES; i++) {
        const struct ovsdb_idl_table_class *tc = &slbrec_table_classes[i];
        for (size_t j = 0; j < tc->n_columns; j++) {
            const struct ovsdb_idl_column *column = &tc->columns[j];
            const struct ovsdb_base_type *base = &column->type.key;
            if (!ovsdb_base_type_is_strong_ref(base)) {
                continue;
            }
            const struct ovsdb_idl_table_class *dst
                = table_class(base->uuid.refTableName);
            if (!dst || dst->is_root) {
                continue;
            }
            const struct ovsdb_idl_row *row;
            for (row = ovsdb_idl_first_row(idl, tc); row;
                 row = ovsdb_idl_next_row(row)) {
                const struct ovsdb_datum *d = ovsdb_idl_read(row, column);
                for (size_t k = 0; k < d->n; k++) {
                    const struct ovsdb_idl_row *target
                        = ovsdb_idl_get_row_for_uuid(idl, dst,
                                                     &d->keys[k].uuid);
                    if (target && target->old_datum && !target->new_datum) {
                        ctl_fatal("cannot destroy %s: %s still refers to it "
                                  "(column %s)", describe_row(dst, target),
                                  describe_row(tc, row), column->name);
                    }
                }
            }
        }
    }
}

/* This invocation's mark on its transaction, in SLB_Global's external_ids
 * under TXN_TOKEN_KEY.  The server may commit a transaction and then lose
 * the connection before it answers (a cluster's leader that dies, say):
 * slb-ctl then runs its commands again on the database as it is, where a
 * command that creates a named row would find the row and fail.  Before
 * it runs them again, slb-ctl looks for its mark: if the database has it,
 * the transaction is in.  (Another slb-ctl that committed in between
 * would have replaced the mark: then slb-ctl runs its commands again, as
 * without one.)  Only transactions of slb-ctl's own commands carry it:
 * the generic ones may run with a role that may not write SLB_Global. */
#define TXN_TOKEN_KEY "slb-ctl-txn"
static char *txn_token;

/* Returns true if one of the 'n' 'commands' is one of slb-ctl's own that
 * may write, rather than a generic database command. */
static bool
has_own_write_command(const struct ctl_command *commands, size_t n)
{
    for (const struct ctl_command *c = commands; c < &commands[n]; c++) {
        for (const struct ctl_command_syntax *s = slb_commands; s->name;
             s++) {
            if (c->syntax == s && s->mode == RW) {
                return true;
            }
        }
    }
    return false;
}

/* Returns true if a transaction of this invocation is already in the
 * database that 'idl' holds. */
static bool
committed_before(struct ovsdb_idl *idl)
{
    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    const char *token = (global
                         ? smap_get(&global->external_ids, TXN_TOKEN_KEY)
                         : NULL);
    return txn_token && token && !strcmp(token, txn_token);
}

static bool
do_slb_ctl(const char *args, struct ctl_command *commands, size_t n_commands,
           struct ovsdb_idl *idl)
{
    if (committed_before(idl)) {
        /* Its reply was lost, not the transaction: done, but for the
         * output of its commands, which went with the reply. */
        VLOG_INFO("the transaction was committed before its reply was lost");
        const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
        if (wait_type != WAIT_NONE) {
            wait_for_cfg(idl, global->nb_cfg);
        }
        return true;
    }

    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
    the_idl_txn = txn;
    if (dry_run) {
        ovsdb_idl_txn_set_dry_run(txn);
    }
    ovsdb_idl_txn_add_comment(txn, "slb-ctl: %s", args);

    if (ctl_might_write_to_db(commands, n_commands)) {
        const struct slbrec_slb_global *global = slb_global(idl, txn);
        if (wait_type != WAIT_NONE) {
            ovsdb_idl_txn_increment(txn, &global->header_,
                                    &slbrec_slb_global_col_nb_cfg, true);
        }
        if (has_own_write_command(commands, n_commands)) {
            if (!txn_token) {
                struct uuid uuid;
                uuid_generate(&uuid);
                txn_token = xasprintf(UUID_FMT, UUID_ARGS(&uuid));
            }
            slbrec_slb_global_update_external_ids_setkey(global,
                                                         TXN_TOKEN_KEY,
                                                         txn_token);
        }
    }

    struct ovsdb_symbol_table *symtab = ovsdb_symbol_table_create();
    struct ctl_context ctx;
    memset(&ctx, 0, sizeof ctx);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ds_init(&c->output);
        c->table = NULL;
    }
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ctl_context_init(&ctx, c, idl, txn, symtab, NULL);
        ctx.last_command = c == &commands[n_commands - 1];
        if (c->syntax->run) {
            c->syntax->run(&ctx);
        }
        if (ctx.error) {
            ctl_fatal("%s", ctx.error);
        }
        ctl_context_done(&ctx, c);
        if (ctx.try_again) {
            goto try_again;
        }
    }

    for (size_t i = 0; i < n_commands; i++) {
        if (destroys_referenced_rows(&commands[i])) {
            check_destroyed_rows(idl);
            break;
        }
    }

    /* Which hosts read which rows, after the commands' changes.  (A
     * replica of some columns only may not tell, but then no command
     * changed them: see choose_read_mode().) */
    if (read_mode != READ_COLUMNS && ctl_might_write_to_db(commands,
                                                           n_commands)) {
        slb_hosts_update(idl);
    }

    struct shash_node *node;
    SHASH_FOR_EACH (node, &symtab->sh) {
        struct ovsdb_symbol *symbol = node->data;
        if (!symbol->created) {
            ctl_fatal("row id \"%s\" is referenced but never created "
                      "(e.g. with \"-- --id=%s create ...\")",
                      node->name, node->name);
        }
    }

    enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit_block(txn);
    int64_t next_cfg = 0;
    if (status == TXN_SUCCESS && wait_type != WAIT_NONE) {
        next_cfg = ovsdb_idl_txn_get_increment_new_value(txn);
    }
    if (status == TXN_UNCHANGED || status == TXN_SUCCESS) {
        for (struct ctl_command *c = commands; c < &commands[n_commands];
             c++) {
            if (c->syntax->postprocess) {
                ctl_context_init(&ctx, c, idl, txn, symtab, NULL);
                c->syntax->postprocess(&ctx);
                if (ctx.error) {
                    ctl_fatal("%s", ctx.error);
                }
                ctl_context_done(&ctx, c);
            }
        }
    }

    switch (status) {
    case TXN_UNCOMMITTED:
    case TXN_INCOMPLETE:
        OVS_NOT_REACHED();

    case TXN_ABORTED:
        ctl_fatal("transaction aborted");

    case TXN_UNCHANGED:
    case TXN_SUCCESS:
        break;

    case TXN_TRY_AGAIN:
        goto try_again;

    case TXN_ERROR:
        ctl_fatal("%s", txn_error_message(ovsdb_idl_txn_get_error(txn)));

    case TXN_NOT_LOCKED:
        ctl_fatal("database not locked");

    default:
        OVS_NOT_REACHED();
    }

    ovsdb_symbol_table_destroy(symtab);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        struct ds *ds = &c->output;

        if (c->table) {
            table_print(c->table, &table_style);
        } else if (oneline) {
            ds_chomp(ds, '\n');
            for (size_t j = 0; j < ds->length; j++) {
                int ch = ds->string[j];
                if (ch == '\n') {
                    fputs("\\n", stdout);
                } else if (ch == '\\') {
                    fputs("\\\\", stdout);
                } else {
                    putchar(ch);
                }
            }
            putchar('\n');
        } else {
            fputs(ds_cstr(ds), stdout);
        }
        ds_destroy(&c->output);
        table_destroy(c->table);
        free(c->table);
        shash_destroy_free_data(&c->options);
    }
    free(commands);
    fflush(stdout);

    if (status == TXN_SUCCESS && wait_type != WAIT_NONE) {
        wait_for_cfg(idl, next_cfg);
    }
    ovsdb_idl_txn_destroy(txn);
    the_idl_txn = NULL;
    return true;

try_again:
    ovsdb_idl_txn_abort(txn);
    ovsdb_idl_txn_destroy(txn);
    the_idl_txn = NULL;
    ovsdb_symbol_table_destroy(symtab);
    for (struct ctl_command *c = commands; c < &commands[n_commands]; c++) {
        ds_destroy(&c->output);
        table_destroy(c->table);
        free(c->table);
    }
    return false;
}

/* Appends to 'lagging' the names of the hosts or muxes that have not yet
 * applied 'next_cfg', by their status rows, and returns how many there are
 * in all. */
static size_t
find_lagging(struct ovsdb_idl *idl, int64_t next_cfg, struct svec *lagging)
{
    struct shash applied = SHASH_INITIALIZER(&applied);
    size_t n = 0;

    if (wait_type == WAIT_HV) {
        const struct slbrec_host_status *hs;
        SLBREC_HOST_STATUS_FOR_EACH (hs, idl) {
            shash_replace(&applied, hs->name, CONST_CAST(int64_t *,
                                                         &hs->nb_cfg));
        }
        const struct slbrec_host *host;
        SLBREC_HOST_FOR_EACH (host, idl) {
            const int64_t *nb_cfg = shash_find_data(&applied, host->name);
            n++;
            if (!nb_cfg || *nb_cfg < next_cfg) {
                svec_add(lagging, host->name);
            }
        }
    } else {
        const struct slbrec_mux_status *ms;
        SLBREC_MUX_STATUS_FOR_EACH (ms, idl) {
            shash_replace(&applied, ms->name, CONST_CAST(int64_t *,
                                                         &ms->nb_cfg));
        }
        const struct slbrec_mux *mux;
        SLBREC_MUX_FOR_EACH (mux, idl) {
            const int64_t *nb_cfg = shash_find_data(&applied, mux->name);
            n++;
            if (!nb_cfg || *nb_cfg < next_cfg) {
                svec_add(lagging, mux->name);
            }
        }
    }
    shash_destroy(&applied);
    return n;
}

/* Waits until every registered host or mux (per --wait) reports
 * 'next_cfg' or later, within --timeout. */
static void
wait_for_cfg(struct ovsdb_idl *idl, int64_t next_cfg)
{
    long long int deadline = timeout ? time_msec() + timeout * 1000LL
                                     : LLONG_MAX;
    const char *what = wait_type == WAIT_HV ? "hosts" : "muxes";

    ovsdb_idl_enable_reconnect(idl);
    for (;;) {
        struct svec lagging = SVEC_EMPTY_INITIALIZER;

        ovsdb_idl_run(idl);
        size_t n = find_lagging(idl, next_cfg, &lagging);
        if (!lagging.n) {
            svec_destroy(&lagging);
            return;
        }
        if (time_msec() >= deadline) {
            svec_sort(&lagging);
            char *names = svec_join(&lagging, ", ", "");
            ctl_fatal("timed out after %u s: %"PRIuSIZE" of %"PRIuSIZE" %s "
                      "have not applied nb_cfg %"PRId64" (%s)", timeout,
                      lagging.n, n, what, next_cfg, names);
        }
        svec_destroy(&lagging);

        keep_trying(idl);
        ovsdb_idl_wait(idl);
        poll_timer_wait_until(deadline);
        poll_block();
    }
}

/* Looking rows up. */

/* Defines find_TABLE(ctx, name, must_exist), which returns the row of
 * TABLE named 'name', or NULL if there is none and !must_exist, through
 * the IDL index TABLE_by_name: a transaction of thousands of commands
 * must not scan a table for each.  (The IDL keeps the index current with
 * the transaction's own changes.) */
#define NAMED_TABLE(TABLE, WHAT)                                        \
    static const struct slbrec_##TABLE *                                \
    find_##TABLE(const struct ctl_context *ctx OVS_UNUSED,              \
                 const char *name, bool must_exist)                     \
    {                                                                   \
        struct slbrec_##TABLE *key                                      \
            = slbrec_##TABLE##_index_init_row(TABLE##_by_name);         \
        slbrec_##TABLE##_index_set_name(key, name);                     \
        const struct slbrec_##TABLE *row                                \
            = slbrec_##TABLE##_index_find(TABLE##_by_name, key);        \
        slbrec_##TABLE##_index_destroy_row(key);                        \
        if (!row && must_exist) {                                       \
            ctl_fatal("no %s named \"%s\"", WHAT, name);                \
        }                                                               \
        return row;                                                     \
    }
NAMED_TABLES
#undef NAMED_TABLE

/* Defines read_TABLE(name), which asks READ_ROWS for the row of TABLE
 * named 'name'. */
#define NAMED_TABLE(TABLE, WHAT)                                        \
    static void OVS_UNUSED                                              \
    read_##TABLE(const char *name)                                      \
    {                                                                   \
        READ(TABLE, name, OVSDB_F_EQ, name);                            \
    }
NAMED_TABLES
#undef NAMED_TABLE

static void delete_nat_pool(const struct slbrec_inbound_nat_pool *);
static void read_nat_pools_of(const struct ctl_context *,
                              const struct slbrec_backend_pool *);

/* Fails unless 'owner', the load balancer of the 'what' named 'name', is
 * 'lb'. */
static void
check_same_lb(const struct slbrec_load_balancer *lb, const char *what,
              const char *name, const struct slbrec_load_balancer *owner)
{
    if (owner != lb) {
        ctl_fatal("%s \"%s\" belongs to load balancer \"%s\", not \"%s\"",
                  what, name, owner ? owner->name : "(none)", lb->name);
    }
}

/* Defines owner_of_TABLE(ctx, row), which returns the load balancer that
 * owns 'row' through its column 'COLUMN', or NULL if none does, and
 * check_TABLE_of(ctx, lb, row, what), which fails unless 'lb' owns 'row'
 * (looking at 'lb' alone when it does: a transaction may add thousands of
 * rules to as many load balancers). */
#define DEFINE_FIND_OWNER(TABLE, COLUMN)                                \
    static const struct slbrec_load_balancer *                          \
    owner_of_##TABLE(const struct ctl_context *ctx,                     \
                     const struct slbrec_##TABLE *row)                  \
    {                                                                   \
        const struct slbrec_load_balancer *lb;                          \
        SLBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {                  \
            for (size_t i = 0; i < lb->n_##COLUMN; i++) {               \
                if (lb->COLUMN[i] == row) {                             \
                    return lb;                                          \
                }                                                       \
            }                                                           \
        }                                                               \
        return NULL;                                                    \
    }                                                                   \
                                                                        \
    static void OVS_UNUSED                                              \
    check_##TABLE##_of(const struct ctl_context *ctx,                   \
                       const struct slbrec_load_balancer *lb,           \
                       const struct slbrec_##TABLE *row,                \
                       const char *what)                                \
    {                                                                   \
        for (size_t i = 0; i < lb->n_##COLUMN; i++) {                   \
            if (lb->COLUMN[i] == row) {                                 \
                return;                                                 \
            }                                                           \
        }                                                               \
        check_same_lb(lb, what, row->name, owner_of_##TABLE(ctx, row)); \
    }                                                                   \
                                                                        \
    /* Asks READ_ROWS for what check_TABLE_of() looks at, when the   */ \
    /* load balancer named 'lb_name' does not own the TABLE named    */ \
    /* 'name': the load balancer that does. */                          \
    static void OVS_UNUSED                                              \
    read_owner_of_##TABLE(const struct ctl_context *ctx,                \
                          const char *lb_name, const char *name)        \
    {                                                                   \
        const struct slbrec_##TABLE *row = find_##TABLE(ctx, name,      \
                                                        false);         \
        const struct slbrec_load_balancer *lb                           \
            = find_load_balancer(ctx, lb_name, false);                  \
        if (!row) {                                                     \
            return;                                                     \
        }                                                               \
        for (size_t i = 0; lb && i < lb->n_##COLUMN; i++) {             \
            if (lb->COLUMN[i] == row) {                                 \
                return;                                                 \
            }                                                           \
        }                                                               \
        struct uuid *uuid = CONST_CAST(struct uuid *,                   \
                                       &row->header_.uuid);             \
        READ(load_balancer, COLUMN, OVSDB_F_INCLUDES, &uuid, 1);        \
    }
DEFINE_FIND_OWNER(frontend, frontends)
DEFINE_FIND_OWNER(backend_pool, backend_pools)
DEFINE_FIND_OWNER(probe, probes)

/* Returns the CA of backend 'vm', or "-" if there is none (a row that
 * another client wrote). */
static const char *
backend_ca(const struct slbrec_vm *vm)
{
    return vm ? vm->ca : "-";
}

/* Returns the name of the inbound NAT pool whose mapping 'nat' is, or NULL
 * if it is a rule of its own. */
static const char *
nat_pool_mapping(const struct slbrec_inbound_nat_rule *nat)
{
    return smap_get(&nat->external_ids, "slb-nat-pool");
}

/* Returns address 's', IPv4 or IPv6 (see slb-parse.h), or all-zeros if it
 * is none. */
static struct in6_addr
addr_of(const char *s)
{
    struct in6_addr a;
    return s && slb_addr_from_string(s, &a) ? a : in6addr_any;
}

/* Compares addresses 'a' and 'b': IPv4 ones first, in numeric order,
 * then IPv6 ones. */
static int
compare_addrs(const char *a, const char *b)
{
    struct in6_addr aa = addr_of(a), ab = addr_of(b);
    return memcmp(&aa, &ab, sizeof aa);
}

static const char *
family_name(const struct in6_addr *a)
{
    return IN6_IS_ADDR_V4MAPPED(a) ? "IPv4" : "IPv6";
}

/* Fails unless backend address 'ca' is of the family of the VIPs of the
 * rules that send to 'pool': a pool without backends yet may have
 * rules, whose VIPs then say its family. */
static void
check_pool_rules_family(struct ctl_context *ctx,
                        const struct slbrec_backend_pool *pool,
                        const struct in6_addr *ca)
{
    char ca_s[SLB_ADDR_STRLEN];
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, ctx->idl) {
        struct in6_addr vip;
        if (rule->pool == pool && rule->frontend
            && slb_addr_from_string(rule->frontend->vip, &vip)
            && IN6_IS_ADDR_V4MAPPED(&vip) != IN6_IS_ADDR_V4MAPPED(ca)) {
            ctl_fatal("backend %s is %s, and rule \"%s\" of pool \"%s\" has "
                      "%s VIP %s", slb_addr_to_string(ca, ca_s),
                      family_name(ca), rule->name, pool->name,
                      family_name(&vip), rule->frontend->vip);
        }
    }
    const struct slbrec_outbound_rule *or;
    SLBREC_OUTBOUND_RULE_FOR_EACH (or, ctx->idl) {
        for (size_t i = 0; or->pool == pool && i < or->n_frontends; i++) {
            struct in6_addr vip;
            const char *vip_s = or->frontends[i]->vip;
            if (slb_addr_from_string(vip_s, &vip)
                && IN6_IS_ADDR_V4MAPPED(&vip) != IN6_IS_ADDR_V4MAPPED(ca)) {
                ctl_fatal("backend %s is %s, and outbound rule \"%s\" of "
                          "pool \"%s\" has %s VIP %s",
                          slb_addr_to_string(ca, ca_s), family_name(ca),
                          or->name, pool->name, family_name(&vip), vip_s);
            }
        }
    }
}

/* Fails unless address 'a' of 'what' is of the family of the backends of
 * 'pool' (all of one family, which slb-ctl keeps so), if it has any. */
static void
check_pool_family(const struct slbrec_backend_pool *pool,
                  const struct in6_addr *a, const char *what)
{
    for (size_t i = 0; i < pool->n_members; i++) {
        struct in6_addr ca;
        const char *s = backend_ca(pool->members[i]);
        if (slb_addr_from_string(s, &ca)) {
            if (IN6_IS_ADDR_V4MAPPED(&ca) != IN6_IS_ADDR_V4MAPPED(a)) {
                char buf[SLB_ADDR_STRLEN];
                ctl_fatal("%s %s is %s, and the backends of pool \"%s\" "
                          "are %s", what, slb_addr_to_string(a, buf),
                          family_name(a), pool->name, family_name(&ca));
            }
            return;
        }
    }
}

/* Returns the backend of 'pool' whose CA is 'ca', or NULL. */
static const struct slbrec_vm *
find_backend(const struct slbrec_backend_pool *pool,
             const struct in6_addr *ca)
{
    for (size_t i = 0; i < pool->n_members; i++) {
        struct in6_addr a = addr_of(backend_ca(pool->members[i]));
        if (ipv6_addr_equals(&a, ca)) {
            return pool->members[i];
        }
    }
    return NULL;
}

/* Adds or removes 'CHILD' in set column 'COLUMN' of 'PARENT', a row of
 * 'TABLE'.  These rewrite the whole set rather than sending the IDL's
 * partial updates, because partial updates do not show in the IDL's view
 * before the commit, and a later command of the same invocation must see
 * the change (as in "lb-add lb -- frontend-add lb fe ..."). */
#define SET_ADD(TABLE, PARENT, COLUMN, CHILD)                           \
    do {                                                                \
        size_t n_ = (PARENT)->n_##COLUMN;                               \
        __typeof__(*(PARENT)->COLUMN) *v_ = xmalloc((n_ + 1)            \
                                                    * sizeof *v_);      \
        if (n_) {                                                       \
            memcpy(v_, (PARENT)->COLUMN, n_ * sizeof *v_);              \
        }                                                               \
        v_[n_] = CONST_CAST(__typeof__(*v_), CHILD);                    \
        slbrec_##TABLE##_set_##COLUMN(PARENT, v_, n_ + 1);              \
        free(v_);                                                       \
    } while (0)
#define SET_DEL(TABLE, PARENT, COLUMN, CHILD)                           \
    do {                                                                \
        size_t n_ = (PARENT)->n_##COLUMN, k_ = 0;                       \
        __typeof__(*(PARENT)->COLUMN) *v_ = xmalloc((n_ + 1)            \
                                                    * sizeof *v_);      \
        for (size_t i_ = 0; i_ < n_; i_++) {                            \
            if ((PARENT)->COLUMN[i_] != (CHILD)) {                      \
                v_[k_++] = (PARENT)->COLUMN[i_];                        \
            }                                                           \
        }                                                               \
        if (k_ != n_) {                                                 \
            slbrec_##TABLE##_set_##COLUMN(PARENT, v_, k_);              \
        }                                                               \
        free(v_);                                                       \
    } while (0)

/* Fails with 'error', if it is nonnull, after freeing it. */
static void
check(char *error)
{
    if (error) {
        char *copy = xstrdup(error);
        free(error);
        ctl_fatal("%s", copy);
    }
}

/* Parses the value of option 'name' of the current command, if it was
 * given, as an integer from 'min' to 'max' into '*value'.  Returns true if
 * the option was given. */
static bool
option_uint(const struct ctl_context *ctx, const char *name,
            unsigned long long int min, unsigned long long int max,
            int64_t *value)
{
    const char *s = shash_find_data(&ctx->options, name);
    if (!s) {
        return false;
    }

    unsigned long long int v;
    check(slb_parse_uint(name, s, min, max, &v));
    *value = v;
    return true;
}

/* Returns the value of option 'name' of the command in 'ctx', a unicast
 * Ethernet address, in the canonical spelling, or NULL if the option was
 * not given.  The caller frees it. */
static char *
option_mac(const struct ctl_context *ctx, const char *name)
{
    const char *s = shash_find_data(&ctx->options, name);
    if (!s) {
        return NULL;
    }

    struct eth_addr mac;
    check(slb_parse_mac(name, s, &mac));
    return xasprintf(ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
}

/* Handles "TYPE NAME already exists": returns true if the command should
 * silently do nothing (--may-exist), fails otherwise. */
static bool
already_exists(const struct ctl_context *ctx, const char *what,
               const char *name)
{
    if (shash_find(&ctx->options, "--may-exist")) {
        return true;
    }
    ctl_fatal("%s %s named \"%s\" already exists",
              strchr("aeiou", what[0]) ? "an" : "a", what, name);
}

static bool
if_exists(const struct ctl_context *ctx)
{
    return shash_find(&ctx->options, "--if-exists") != NULL;
}

/* Fails if anything still uses the 'what' named 'name': 'users' holds a
 * description of each user, which the message lists in sorted order.
 * Destroys 'users'. */
static void
refuse_if_used(struct svec *users, const char *what, const char *name)
{
    if (users->n) {
        svec_sort(users);
        char *list = svec_join(users, ", ", "");
        ctl_fatal("%s \"%s\" is used by %s", what, name, list);
    }
    svec_destroy(users);
}

static void
add_user(struct svec *users, const char *what, const char *name)
{
    svec_add_nocopy(users, xasprintf("%s \"%s\"", what, name));
}

/* Output: each object has one line, shared by "show" and "*-list". */

static int
compare_names(const void *a_, const void *b_)
{
    const char *const *a = a_;
    const char *const *b = b_;
    return strcmp(*a, *b);
}

/* Sorts 'n' rows by their name, given the offset of the 'name' member in
 * their struct.  Returns a malloc'd array. */
static const void **
sort_by_name(const void *const *rows, size_t n, size_t name_offset)
{
    /* Each element is a (name, row) pair laid out as two pointers, so that
     * compare_names() can sort by the name in front. */
    const void **pairs = xmalloc(2 * n * sizeof *pairs);
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = *(const char **) ((const char *) rows[i]
                                         + name_offset);
        pairs[2 * i + 1] = rows[i];
    }
    qsort(pairs, n, 2 * sizeof *pairs, compare_names);

    const void **sorted = xmalloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = pairs[2 * i + 1];
    }
    free(pairs);
    return sorted;
}

/* Collects all rows of an IDL table into an array, sorted by name. */
#define SORTED_ROWS(TABLE, IDL, N)                                      \
    ((const struct slbrec_##TABLE **)                                   \
     sorted_table_rows(IDL, &slbrec_table_##TABLE,                      \
                       offsetof(struct slbrec_##TABLE, name), N))

static const void **
sorted_table_rows(struct ovsdb_idl *idl,
                  const struct ovsdb_idl_table_class *tc,
                  size_t name_offset, size_t *n)
{
    const void **rows = NULL;
    size_t allocated = 0;

    *n = 0;
    for (const struct ovsdb_idl_row *row = ovsdb_idl_first_row(idl, tc);
         row; row = ovsdb_idl_next_row(row)) {
        if (*n >= allocated) {
            rows = x2nrealloc(rows, &allocated, sizeof *rows);
        }
        rows[(*n)++] = row;
    }
    const void **sorted = sort_by_name(rows, *n, name_offset);
    free(rows);
    return sorted;
}

/* Sorts an array of row pointers (a column of a row) by name. */
#define SORTED_REFS(TABLE, ROWS, N)                                     \
    ((const struct slbrec_##TABLE **)                                   \
     sort_by_name((const void *const *) (ROWS), N,                      \
                  offsetof(struct slbrec_##TABLE, name)))

static void
format_vnet(struct ds *s, const struct slbrec_vnet *vnet)
{
    ds_put_format(s, "%s vni %"PRId64, vnet->name, vnet->vni);
    if (vnet->n_prefixes) {
        ds_put_cstr(s, " prefixes");
        for (size_t i = 0; i < vnet->n_prefixes; i++) {
            ds_put_format(s, " %s", vnet->prefixes[i]);
        }
    }
    ds_put_char(s, '\n');
}

static void
format_host(struct ds *s, const struct slbrec_host *host)
{
    ds_put_format(s, "%s pa %s", host->name, host->pa);
    if (host->gateway) {
        ds_put_format(s, " gateway %s", host->gateway);
    }
    const char *mac = smap_get(&host->options, "gateway-mac");
    if (mac) {
        ds_put_format(s, " gateway-mac %s", mac);
    }
    ds_put_char(s, '\n');
}

static void
format_mux(struct ds *s, const struct slbrec_mux *mux)
{
    ds_put_format(s, "%s pa %s as %"PRId64" router-id %s", mux->name,
                  mux->pa, mux->local_as, mux->router_id);
    if (mux->n_hold_time) {
        ds_put_format(s, " hold-time %"PRId64, mux->hold_time[0]);
    }
    const char *mac = smap_get(&mux->options, "nexthop-mac");
    if (mac) {
        ds_put_format(s, " nexthop-mac %s", mac);
    }
    const char *nexthop6 = smap_get(&mux->options, "bgp-nexthop-ipv6");
    if (nexthop6) {
        ds_put_format(s, " bgp-nexthop-ipv6 %s", nexthop6);
    }
    ds_put_char(s, '\n');
}

static int
compare_peers(const void *a_, const void *b_)
{
    const struct slbrec_bgp_peer *const *a = a_;
    const struct slbrec_bgp_peer *const *b = b_;
    ovs_be32 ia = 0, ib = 0;

    ip_parse((*a)->address, &ia);
    ip_parse((*b)->address, &ib);
    return ntohl(ia) < ntohl(ib) ? -1 : ntohl(ia) > ntohl(ib);
}

/* Appends to 's' a line for each BGP peer of 'mux', with the state of its
 * session that the mux reported, if any. */
static void
format_peers(struct ds *s, const struct ctl_context *ctx,
             const struct slbrec_mux *mux, const char *indent)
{
    const struct slbrec_mux_status *ms = find_mux_status(ctx, mux->name,
                                                         false);
    struct slbrec_bgp_peer **peers = xmemdup(mux->peers,
                                             mux->n_peers * sizeof *peers);
    qsort(peers, mux->n_peers, sizeof *peers, compare_peers);
    for (size_t i = 0; i < mux->n_peers; i++) {
        const struct slbrec_bgp_peer *peer = peers[i];
        ds_put_format(s, "%speer %s as %"PRId64, indent, peer->address,
                      peer->remote_as);
        if (peer->password) {
            ds_put_cstr(s, " password set");
        }
        const char *state = ms ? smap_get(&ms->peer_states, peer->address)
                               : NULL;
        if (state) {
            ds_put_format(s, " (%s)", state);
        }
        ds_put_char(s, '\n');
    }
    free(peers);
}

/* Appends to 's' how many ways of VIPs to hosts the path probes of 'mux'
 * find up and down, and a line for each way down. */
static void
format_paths(struct ds *s, const struct ctl_context *ctx,
             const struct slbrec_mux *mux, const char *indent)
{
    const struct slbrec_mux_status *ms = find_mux_status(ctx, mux->name,
                                                         false);
    if (!ms) {
        return;
    }
    const char *up = smap_get(&ms->status, "paths-up");
    const char *down = smap_get(&ms->status, "paths-down");
    if (up && down) {
        ds_put_format(s, "%spaths: %s up, %s down\n", indent, up, down);
    }
    const struct smap_node **nodes = smap_sort(&ms->path_states);
    for (size_t i = 0; i < smap_count(&ms->path_states); i++) {
        const char *key = nodes[i]->key;
        const char *at = strchr(key, '@');
        if (at) {
            ds_put_format(s, "%spath %.*s to %s: %s\n", indent,
                          (int) (at - key), key, at + 1, nodes[i]->value);
        }
    }
    free(nodes);
}

static const char *
frontend_type(const struct slbrec_frontend *fe)
{
    return fe->type ? fe->type : "public";
}

static void
format_frontend(struct ds *s, const struct slbrec_frontend *fe)
{
    ds_put_format(s, "%s %s %s", fe->name, fe->vip, frontend_type(fe));
    if (fe->vnet) {
        ds_put_format(s, " vnet %s", fe->vnet->name);
    }
    ds_put_char(s, '\n');
}

static void
format_pool(struct ds *s, const struct slbrec_backend_pool *pool)
{
    ds_put_format(s, "%s vnet %s, %"PRIuSIZE" backend%s\n", pool->name,
                  pool->vnet ? pool->vnet->name : "-", pool->n_members,
                  pool->n_members == 1 ? "" : "s");
}

static int
compare_backends(const void *a_, const void *b_)
{
    const struct slbrec_vm *const *a = a_;
    const struct slbrec_vm *const *b = b_;
    return compare_addrs(backend_ca(*a), backend_ca(*b));
}

/* Returns the backends of 'pool' in the order of their CAs, which is also
 * the canonical order for SNAT allocation.  The caller frees the array. */
static struct slbrec_vm **
sorted_backends(const struct slbrec_backend_pool *pool)
{
    struct slbrec_vm **backends
        = xmemdup(pool->members, pool->n_members * sizeof *backends);
    qsort(backends, pool->n_members, sizeof *backends, compare_backends);
    return backends;
}

/* Returns the binding that counts for 'vm', or NULL if its host's agent
 * has not bound it (or 'vm' is NULL). */
static const struct slbrec_vm_binding *
find_binding(const struct slbrec_vm *vm)
{
    const struct slbrec_vm_binding *found = NULL;
    if (!vm) {
        return NULL;
    }
    struct slbrec_vm_binding *key = slbrec_vm_binding_index_init_row(
        bindings_by_vm);
    slbrec_vm_binding_index_set_vm(key, vm);
    const struct slbrec_vm_binding *b;
    SLBREC_VM_BINDING_FOR_EACH_EQUAL (b, key, bindings_by_vm) {
        if (slb_binding_counts(b)) {
            found = b;
            break;
        }
    }
    slbrec_vm_binding_index_destroy_row(key);
    return found;
}

/* Returns the health row that counts for backend 'vm' under 'probe', or
 * NULL if its host has not probed it yet. */
static const struct slbrec_backend_health *
find_health(const struct slbrec_vm *vm, const struct slbrec_probe *probe)
{
    const struct slbrec_backend_health *found = NULL;
    struct slbrec_backend_health *key = slbrec_backend_health_index_init_row(
        health_by_vm);
    slbrec_backend_health_index_set_vm(key, vm);
    const struct slbrec_backend_health *h;
    SLBREC_BACKEND_HEALTH_FOR_EACH_EQUAL (h, key, health_by_vm) {
        if (h->probe == probe && slb_health_counts(h)) {
            found = h;
            break;
        }
    }
    slbrec_backend_health_index_destroy_row(key);
    return found;
}

/* Returns why no agent has bound 'vm', for operators. */
static char *
unbound_reason(struct ctl_context *ctx, const struct slbrec_vm *vm)
{
    return (!vm->host ? xstrdup("no host")
            : !vm->iface_id ? xstrdup("no iface-id")
            : !find_host_status(ctx, vm->host->name, false)
            ? xasprintf("no agent has reported from %s", vm->host->name)
            : xasprintf("no port of %s has iface-id %s", vm->host->name,
                        vm->iface_id));
}

/* Appends to 'lines', each after 'prefix', the state of backend 'vm' of
 * 'pool', which 'binding' binds (NULL: none), for the rules over the pool:
 * one line for each probe that they use, or one for none, saying whether
 * it takes new flows and why, as the muxes decide it. */
static void
add_backend_states(struct ctl_context *ctx, struct svec *lines,
                   const char *prefix,
                   const struct slbrec_backend_pool *pool,
                   const struct slbrec_vm *vm,
                   const struct slbrec_vm_binding *binding)
{
    enum slb_admin_state admin = slb_backend_admin_state(pool, vm);
    const char *admin_up = admin == SLB_ADMIN_UP ? ", admin up" : "";

    if (!binding) {
        char *why = vm ? unbound_reason(ctx, vm) : xstrdup("no VM");
        enum slb_backend_state state = slb_backend_state(pool, vm, false,
                                                         false);
        svec_add_nocopy(lines, xasprintf("%s%s (%s)\n", prefix,
                                         slb_backend_state_name(state),
                                         why));
        free(why);
        return;
    }

    struct sset seen = SSET_INITIALIZER(&seen);
    struct slbrec_lb_rule *key = slbrec_lb_rule_index_init_row(
        lb_rules_by_pool);
    slbrec_lb_rule_index_set_pool(key, pool);
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH_EQUAL (rule, key, lb_rules_by_pool) {
        const struct slbrec_probe *probe = rule->probe;
        if (!probe || !sset_add(&seen, probe->name)) {
            continue;
        }
        const struct slbrec_backend_health *h = find_health(vm, probe);
        bool down = h && !strcmp(h->status, "down");
        enum slb_backend_state state = slb_backend_state(pool, vm, true,
                                                         down);
        svec_add_nocopy(lines, xasprintf(
                            "%s%s (probe %s: %s%s)\n", prefix,
                            slb_backend_state_name(state), probe->name,
                            h ? h->reason : "never probed", admin_up));
    }
    slbrec_lb_rule_index_destroy_row(key);
    if (sset_is_empty(&seen)) {
        enum slb_backend_state state = slb_backend_state(pool, vm, true,
                                                         false);
        svec_add_nocopy(lines, xasprintf("%s%s (no probe%s)\n", prefix,
                                         slb_backend_state_name(state),
                                         admin_up));
    }
    sset_destroy(&seen);
}

/* Appends to 's' the state of backend 'vm' of 'pool', a line per probe,
 * sorted, after the port that binds it. */
static void
format_backend_state(struct ctl_context *ctx, struct ds *s,
                     const struct slbrec_backend_pool *pool,
                     const struct slbrec_vm *vm)
{
    const struct slbrec_vm_binding *binding = find_binding(vm);
    if (binding) {
        ds_put_format(s, "            bound to port %s\n", binding->port);
    }
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    add_backend_states(ctx, &lines, "            state: ", pool, vm,
                       binding);
    svec_sort(&lines);
    for (size_t i = 0; i < lines.n; i++) {
        ds_put_cstr(s, lines.names[i]);
    }
    svec_destroy(&lines);
}

static void
format_backend(struct ds *s, const struct slbrec_backend_pool *pool,
               const struct slbrec_vm *vm)
{
    ds_put_format(s, "%s host %s weight %"PRId64, backend_ca(vm),
                  vm && vm->host ? vm->host->name : "-",
                  slb_backend_weight(pool, vm));
    if (vm && vm->mac) {
        ds_put_format(s, " mac %s", vm->mac);
    }
    if (vm && vm->iface_id) {
        ds_put_format(s, " iface-id %s", vm->iface_id);
    }
    enum slb_admin_state admin = slb_backend_admin_state(pool, vm);
    if (admin != SLB_ADMIN_NONE) {
        ds_put_format(s, " admin %s", slb_admin_state_name(admin));
    }
    ds_put_char(s, '\n');
}

static void
format_probe(struct ds *s, const struct slbrec_probe *probe)
{
    ds_put_format(s, "%s %s port %"PRId64, probe->name, probe->protocol,
                  probe->port);
    if (probe->path) {
        ds_put_format(s, " path %s", probe->path);
    }
    struct slb_probe_settings ps;
    slb_probe_settings(probe, &ps);
    ds_put_format(s, " interval %"PRId64"s", ps.interval);
    if (probe->n_timeout) {
        ds_put_format(s, " timeout %"PRId64"s", ps.timeout);
    }
    ds_put_format(s, " up %"PRId64" down %"PRId64"\n", ps.up_threshold,
                  ps.down_threshold);
}

static void
format_lb_rule(struct ds *s, const struct slbrec_lb_rule *rule)
{
    ds_put_format(s, "%s %s %s %"PRId64" -> %s port %"PRId64" %s",
                  rule->name, rule->frontend->name, rule->protocol,
                  rule->frontend_port, rule->pool->name, rule->backend_port,
                  rule->distribution ? rule->distribution : "5-tuple");
    if (rule->probe) {
        ds_put_format(s, " probe %s", rule->probe->name);
    }
    if (rule->floating_ip) {
        ds_put_cstr(s, " floating-ip");
    }
    if (rule->n_idle_timeout) {
        ds_put_format(s, " idle-timeout %"PRId64"s", rule->idle_timeout[0]);
    }
    if (rule->tcp_reset) {
        ds_put_cstr(s, " tcp-reset");
    }
    if (slb_rule_fails_open(rule)) {
        ds_put_cstr(s, " no-healthy-backends all-probed-up");
    }
    ds_put_char(s, '\n');
}

static int
compare_mappings(const void *a_, const void *b_)
{
    const struct slbrec_inbound_nat_rule *const *a = a_, *const *b = b_;
    return ((*a)->frontend_port > (*b)->frontend_port)
            - ((*a)->frontend_port < (*b)->frontend_port);
}

/* Appends a line for each mapping of inbound NAT pool 'np', by port, each
 * after 'prefix'. */
static void
format_nat_mappings(struct ds *s, const struct slbrec_inbound_nat_pool *np,
                    const char *prefix)
{
    const struct slbrec_inbound_nat_rule **maps
        = xmemdup(np->mappings, np->n_mappings * sizeof *maps + 1);
    qsort(maps, np->n_mappings, sizeof *maps, compare_mappings);
    for (size_t i = 0; i < np->n_mappings; i++) {
        ds_put_format(s, "%s%"PRId64" -> %s\n", prefix,
                      maps[i]->frontend_port, backend_ca(maps[i]->vm));
    }
    free(maps);
}

/* Appends the line of inbound NAT pool 'r' itself. */
static void
format_nat_pool_rule(struct ds *s, const struct slbrec_inbound_nat_pool *r)
{
    ds_put_format(s, "%s %s %s %"PRId64"-%"PRId64" -> %s port %"PRId64,
                  r->name, r->frontend->name, r->protocol,
                  r->frontend_port_min, r->frontend_port_max, r->pool->name,
                  r->backend_port);
    if (r->floating_ip) {
        ds_put_cstr(s, " floating-ip");
    }
    if (r->n_idle_timeout) {
        ds_put_format(s, " idle-timeout %"PRId64"s", r->idle_timeout[0]);
    }
    ds_put_char(s, '\n');
}

/* Appends inbound NAT pool 'r''s line and a line for each mapping. */
static void
format_inbound_nat_pool(struct ds *s, const struct slbrec_inbound_nat_pool *r)
{
    format_nat_pool_rule(s, r);
    format_nat_mappings(s, r, "    ");
}

static void
format_inbound_nat_rule(struct ds *s, const struct slbrec_inbound_nat_rule *r)
{
    ds_put_format(s, "%s %s %s %"PRId64" -> %s port %"PRId64, r->name,
                  r->frontend->name, r->protocol, r->frontend_port,
                  backend_ca(r->vm), r->backend_port);
    if (r->floating_ip) {
        ds_put_cstr(s, " floating-ip");
    }
    if (r->n_idle_timeout) {
        ds_put_format(s, " idle-timeout %"PRId64"s", r->idle_timeout[0]);
    }
    ds_put_char(s, '\n');
}

static void
format_outbound_rule(struct ds *s, const struct slbrec_outbound_rule *rule)
{
    ds_put_format(s, "%s", rule->name);
    const struct slbrec_frontend **fes = SORTED_REFS(frontend,
                                                     rule->frontends,
                                                     rule->n_frontends);
    for (size_t i = 0; i < rule->n_frontends; i++) {
        ds_put_format(s, "%c%s", i ? ',' : ' ', fes[i]->name);
    }
    free(fes);
    ds_put_format(s, " -> %s %s", rule->pool->name, rule->protocol);
    if (rule->n_ports_per_instance) {
        ds_put_format(s, " ports-per-instance %"PRId64,
                      rule->ports_per_instance[0]);
    } else {
        ds_put_cstr(s, " ports-per-instance auto");
    }
    if (rule->n_idle_timeout) {
        ds_put_format(s, " idle-timeout %"PRId64"s",
                      rule->idle_timeout[0]);
    }
    ds_put_char(s, '\n');
}

static int
compare_allocations(const void *a_, const void *b_)
{
    const struct slbrec_snat_allocation *const *a = a_;
    const struct slbrec_snat_allocation *const *b = b_;
    int cmp = strcmp((*a)->frontend->name, (*b)->frontend->name);
    return cmp ? cmp : (*a)->port_min < (*b)->port_min ? -1
                       : (*a)->port_min > (*b)->port_min;
}

static void
format_allocations(struct ds *s, const struct slbrec_outbound_rule *rule,
                   const char *indent)
{
    struct slbrec_snat_allocation **allocs
        = xmemdup(rule->allocations,
                  rule->n_allocations * sizeof *allocs);
    qsort(allocs, rule->n_allocations, sizeof *allocs, compare_allocations);
    for (size_t i = 0; i < rule->n_allocations; i++) {
        const struct slbrec_snat_allocation *a = allocs[i];
        ds_put_format(s, "%s%s %s:%"PRId64"-%"PRId64" (%"PRId64" ports)\n",
                      indent, backend_ca(a->vm), a->frontend->vip,
                      a->port_min,
                      a->port_max, a->port_max - a->port_min + 1);
    }
    free(allocs);
}

static void
format_acl(struct ds *s, const struct slbrec_acl *acl)
{
    ds_put_format(s, "%s %s %s priority %"PRId64, acl->name, acl->iface_id,
                  acl->direction, acl->priority);
    if (acl->protocol) {
        ds_put_format(s, " %s", acl->protocol);
    }
    if (acl->src_prefix) {
        ds_put_format(s, " src %s", acl->src_prefix);
    }
    if (acl->n_src_port_min) {
        ds_put_format(s, " src-port %"PRId64, acl->src_port_min[0]);
        if (acl->n_src_port_max && acl->src_port_max[0]
                                   != acl->src_port_min[0]) {
            ds_put_format(s, "-%"PRId64, acl->src_port_max[0]);
        }
    }
    if (acl->dst_prefix) {
        ds_put_format(s, " dst %s", acl->dst_prefix);
    }
    if (acl->n_dst_port_min) {
        ds_put_format(s, " dst-port %"PRId64, acl->dst_port_min[0]);
        if (acl->n_dst_port_max && acl->dst_port_max[0]
                                   != acl->dst_port_min[0]) {
            ds_put_format(s, "-%"PRId64, acl->dst_port_max[0]);
        }
    }
    ds_put_format(s, " %s\n", acl->action);
}

static void
format_meter(struct ds *s, const struct slbrec_meter *meter)
{
    ds_put_format(s, "%s %s %s rate %"PRId64" kbps", meter->name,
                  meter->iface_id, meter->direction, meter->rate);
    if (meter->n_burst) {
        ds_put_format(s, " burst %"PRId64" kbit", meter->burst[0]);
    }
    ds_put_char(s, '\n');
}

/* Appends the lines of load balancer 'lb' and everything in it, indented
 * under a heading line. */
static void
format_load_balancer(struct ctl_context *ctx, struct ds *s,
                     const struct slbrec_load_balancer *lb)
{
    ds_put_format(s, "load-balancer %s\n", lb->name);

    const struct slbrec_frontend **fes
        = SORTED_REFS(frontend, lb->frontends, lb->n_frontends);
    for (size_t i = 0; i < lb->n_frontends; i++) {
        ds_put_cstr(s, "    frontend ");
        format_frontend(s, fes[i]);
    }
    free(fes);

    const struct slbrec_backend_pool **pools
        = SORTED_REFS(backend_pool, lb->backend_pools, lb->n_backend_pools);
    for (size_t i = 0; i < lb->n_backend_pools; i++) {
        ds_put_cstr(s, "    pool ");
        format_pool(s, pools[i]);

        struct slbrec_vm **backends = sorted_backends(pools[i]);
        for (size_t j = 0; j < pools[i]->n_members; j++) {
            ds_put_cstr(s, "        backend ");
            format_backend(s, pools[i], backends[j]);
            format_backend_state(ctx, s, pools[i], backends[j]);
        }
        free(backends);
    }
    free(pools);

    const struct slbrec_probe **probes
        = SORTED_REFS(probe, lb->probes, lb->n_probes);
    for (size_t i = 0; i < lb->n_probes; i++) {
        ds_put_cstr(s, "    probe ");
        format_probe(s, probes[i]);
    }
    free(probes);

    const struct slbrec_lb_rule **rules
        = SORTED_REFS(lb_rule, lb->rules, lb->n_rules);
    for (size_t i = 0; i < lb->n_rules; i++) {
        ds_put_cstr(s, "    rule ");
        format_lb_rule(s, rules[i]);
    }
    free(rules);

    const struct slbrec_inbound_nat_rule **nats
        = SORTED_REFS(inbound_nat_rule, lb->inbound_nat_rules,
                      lb->n_inbound_nat_rules);
    for (size_t i = 0; i < lb->n_inbound_nat_rules; i++) {
        ds_put_cstr(s, "    inbound-nat ");
        format_inbound_nat_rule(s, nats[i]);
    }
    free(nats);

    const struct slbrec_inbound_nat_pool **nps
        = SORTED_REFS(inbound_nat_pool, lb->inbound_nat_pools,
                      lb->n_inbound_nat_pools);
    for (size_t i = 0; i < lb->n_inbound_nat_pools; i++) {
        ds_put_cstr(s, "    inbound-nat-pool ");
        format_nat_pool_rule(s, nps[i]);
        format_nat_mappings(s, nps[i], "        nat ");
    }
    free(nps);

    const struct slbrec_outbound_rule **outs
        = SORTED_REFS(outbound_rule, lb->outbound_rules,
                      lb->n_outbound_rules);
    for (size_t i = 0; i < lb->n_outbound_rules; i++) {
        ds_put_cstr(s, "    outbound ");
        format_outbound_rule(s, outs[i]);
        format_allocations(s, outs[i], "        snat ");
    }
    free(outs);
}

/* Defines list_TABLE(ctx, prefix) that appends one line per row of TABLE,
 * sorted by name, each after 'prefix'. */
#define DEFINE_LIST_ALL(TABLE)                                          \
    static void                                                         \
    list_all_##TABLE(struct ctl_context *ctx, const char *prefix)       \
    {                                                                   \
        size_t n;                                                       \
        const struct slbrec_##TABLE **rows = SORTED_ROWS(TABLE,         \
                                                         ctx->idl, &n); \
        for (size_t i = 0; i < n; i++) {                                \
            ds_put_cstr(&ctx->output, prefix);                          \
            format_##TABLE(&ctx->output, rows[i]);                      \
        }                                                               \
        free(rows);                                                     \
    }
DEFINE_LIST_ALL(vnet)
DEFINE_LIST_ALL(host)
DEFINE_LIST_ALL(acl)
DEFINE_LIST_ALL(meter)

static void
cmd_show(struct ctl_context *ctx)
{
    size_t n;

    list_all_vnet(ctx, "vnet ");
    list_all_host(ctx, "host ");

    const struct slbrec_mux **muxes = SORTED_ROWS(mux, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        ds_put_cstr(&ctx->output, "mux ");
        format_mux(&ctx->output, muxes[i]);
        format_peers(&ctx->output, ctx, muxes[i], "    ");
        format_paths(&ctx->output, ctx, muxes[i], "    ");
    }
    free(muxes);

    const struct slbrec_load_balancer **lbs
        = SORTED_ROWS(load_balancer, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        format_load_balancer(ctx, &ctx->output, lbs[i]);
    }
    free(lbs);

    list_all_acl(ctx, "acl ");
    list_all_meter(ctx, "meter ");
}

/* The prerequisites of a command that reads only the global row, which
 * every invocation reads (run_prerequisites()). */
static void
pre_global_only(struct ctl_context *ctx OVS_UNUSED)
{
}

/* Returns true if 'syntax' is that of a command that reads only small
 * tables, whole, as the generic commands do. */
static bool
reads_small_tables(const struct ctl_command_syntax *syntax)
{
    return (syntax->prerequisites == pre_global_only
            || syntax->prerequisites == pre_init
            || syntax->prerequisites == pre_connection
            || syntax->prerequisites == pre_ssl);
}

static void
pre_init(struct ctl_context *ctx)
{
    slb_rbac_add_tables(ctx->idl);
    ovsdb_idl_add_column(ctx->idl, &slbrec_slb_global_col_options);
}

static void
cmd_init(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slbrec_slb_global_first(
        ctx->idl);
    if (!global) {
        slb_global(ctx->idl, ctx->txn);    /* With a key. */
    } else if (!smap_get(&global->options, "redirect-key")) {
        /* A database from before the fastpath. */
        char *key = slb_redirect_key_generate();
        slbrec_slb_global_update_options_setkey(global, "redirect-key", key);
        free(key);
    }
    slb_rbac_sync(ctx->idl, ctx->txn);
}

static void
cmd_sync(struct ctl_context *ctx OVS_UNUSED)
{
    /* Nothing to change: with --wait, the nb_cfg increment that every
     * writing invocation makes is the whole point. */
}

/* Every writing invocation works out the hosts of the rows it reads, and
 * this one reads them all; it also says how many rows it fixes. */
static void
cmd_hosts_update(struct ctl_context *ctx)
{
    ds_put_format(&ctx->output, "%"PRIuSIZE"\n", slb_hosts_update(ctx->idl));
}

/* The database server's own settings, which ovsdb-server reads with
 * --remote=db:SLB,SLB_Global,connections and --private-key=db:SLB,SSL,
 * private_key (and so on): its remotes, each with the role that its
 * clients' writes are checked against, and its keys. */

static void
pre_connection(struct ctl_context *ctx)
{
    ovsdb_idl_add_column(ctx->idl, &slbrec_slb_global_col_connections);
    add_table(ctx->idl, &slbrec_table_connection);
    slb_rbac_add_tables(ctx->idl);
}

static void
cmd_get_connection(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slb_global(ctx->idl, NULL);
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    for (size_t i = 0; global && i < global->n_connections; i++) {
        const struct slbrec_connection *c = global->connections[i];
        svec_add_nocopy(&lines, xasprintf(
                            "%s%s%s %s\n",
                            c->read_only ? "read-only" : "read-write",
                            *c->role ? " role=" : "", c->role, c->target));
    }
    svec_sort(&lines);
    for (size_t i = 0; i < lines.n; i++) {
        ds_put_cstr(&ctx->output, lines.names[i]);
    }
    svec_destroy(&lines);
}

/* Deletes every remote of the global row 'global'. */
static void
delete_connections(const struct slbrec_slb_global *global)
{
    for (size_t i = 0; i < global->n_connections; i++) {
        slbrec_connection_delete(global->connections[i]);
    }
    slbrec_slb_global_set_connections(global, NULL, 0);
}

static void
cmd_del_connection(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slb_global(ctx->idl, NULL);
    if (global) {
        delete_connections(global);
    }
}

/* Fails unless 'role' is empty (no role: every write allowed) or names a
 * row of RBAC_Role, without which the server would refuse every write of
 * the remote's clients. */
static void
check_role(struct ctl_context *ctx, const char *role)
{
    if (!*role) {
        return;
    }
    const struct slbrec_rbac_role *row;
    SLBREC_RBAC_ROLE_FOR_EACH (row, ctx->idl) {
        if (!strcmp(row->name, role)) {
            return;
        }
    }
    struct ds roles = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < slb_n_rbac_roles; i++) {
        ds_put_format(&roles, "%s%s", i ? ", " : "", slb_rbac_roles[i].name);
    }
    ctl_fatal("role \"%s\" is not in the RBAC_Role table (slb-ctl init "
              "writes %s)", role, ds_cstr(&roles));
}

static void
cmd_set_connection(struct ctl_context *ctx)
{
    int64_t probe = -1;
    option_uint(ctx, "--inactivity-probe", 0, INT_MAX, &probe);

    struct slbrec_connection **rows = xmalloc(ctx->argc * sizeof *rows);
    struct sset targets = SSET_INITIALIZER(&targets);
    bool read_only = false;
    const char *role = "";
    size_t n = 0;
    for (int i = 1; i < ctx->argc; i++) {
        const char *arg = ctx->argv[i];
        if (!strcmp(arg, "read-only") || !strcmp(arg, "read-write")) {
            read_only = !strcmp(arg, "read-only");
            continue;
        } else if (!strncmp(arg, "role=", 5)) {
            role = arg + 5;
            check_role(ctx, role);
            continue;
        }
        if (pstream_verify_name(arg) && stream_verify_name(arg)) {
            ctl_fatal("\"%s\" is not a remote that ovsdb-server can "
                      "listen on or connect to (ptcp:PORT, pssl:PORT, "
                      "punix:FILE, tcp:IP:PORT, ...)", arg);
        }
        if (!sset_add(&targets, arg)) {
            ctl_fatal("remote \"%s\" is given twice", arg);
        }
        rows[n] = slbrec_connection_insert(ctx->txn);
        slbrec_connection_set_target(rows[n], arg);
        slbrec_connection_set_read_only(rows[n], read_only);
        slbrec_connection_set_role(rows[n], role);
        if (probe >= 0) {
            slbrec_connection_set_inactivity_probe(rows[n], &probe, 1);
        }
        n++;
    }
    if (!n) {
        ctl_fatal("set-connection needs at least one remote");
    }

    const struct slbrec_slb_global *global = slb_global(ctx->idl, ctx->txn);
    delete_connections(global);
    slbrec_slb_global_set_connections(global, rows, n);
    sset_destroy(&targets);
    free(rows);
}

static void
pre_ssl(struct ctl_context *ctx)
{
    ovsdb_idl_add_column(ctx->idl, &slbrec_slb_global_col_ssl);
    add_table(ctx->idl, &slbrec_table_ssl);
}

static void
cmd_get_ssl(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slb_global(ctx->idl, NULL);
    const struct slbrec_ssl *ssl = global ? global->ssl : NULL;
    if (ssl) {
        ds_put_format(&ctx->output, "Private key: %s\n", ssl->private_key);
        ds_put_format(&ctx->output, "Certificate: %s\n", ssl->certificate);
        ds_put_format(&ctx->output, "CA Certificate: %s\n", ssl->ca_cert);
        ds_put_format(&ctx->output, "Bootstrap: %s\n",
                      ssl->bootstrap_ca_cert ? "true" : "false");
        if (*ssl->ssl_protocols) {
            ds_put_format(&ctx->output, "Protocols: %s\n",
                          ssl->ssl_protocols);
        }
        if (*ssl->ssl_ciphers) {
            ds_put_format(&ctx->output, "Ciphers: %s\n", ssl->ssl_ciphers);
        }
    }
}

static void
cmd_del_ssl(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slb_global(ctx->idl, NULL);
    if (global && global->ssl) {
        slbrec_ssl_delete(global->ssl);
        slbrec_slb_global_set_ssl(global, NULL);
    }
}

static void
cmd_set_ssl(struct ctl_context *ctx)
{
    const struct slbrec_slb_global *global = slb_global(ctx->idl, ctx->txn);
    if (global->ssl) {
        slbrec_ssl_delete(global->ssl);
    }
    struct slbrec_ssl *ssl = slbrec_ssl_insert(ctx->txn);
    slbrec_ssl_set_private_key(ssl, ctx->argv[1]);
    slbrec_ssl_set_certificate(ssl, ctx->argv[2]);
    slbrec_ssl_set_ca_cert(ssl, ctx->argv[3]);
    slbrec_ssl_set_bootstrap_ca_cert(ssl, shash_find(&ctx->options,
                                                     "--bootstrap"));
    slbrec_ssl_set_ssl_protocols(ssl, ctx->argc > 4 ? ctx->argv[4] : "");
    slbrec_ssl_set_ssl_ciphers(ssl, ctx->argc > 5 ? ctx->argv[5] : "");
    slbrec_slb_global_set_ssl(global, ssl);
}

/* Virtual networks. */

static void
cmd_vnet_add(struct ctl_context *ctx)
{
    const char *name = ctx->argv[1];
    unsigned long long int vni;

    check(slb_parse_name("virtual network name", name));
    check(slb_parse_uint("VNI", ctx->argv[2], 1, 16777215, &vni));

    struct svec prefixes = SVEC_EMPTY_INITIALIZER;
    for (int i = 3; i < ctx->argc; i++) {
        struct in6_addr net;
        unsigned int plen;
        char buf[SLB_ADDR_STRLEN];
        check(slb_parse_addr_prefix("CA prefix", ctx->argv[i], &net,
                                    &plen));
        svec_add_nocopy(&prefixes, xasprintf(
                            "%s/%u", slb_addr_to_string(&net, buf), plen));
    }

    if (find_vnet(ctx, name, false)) {
        already_exists(ctx, "virtual network", name);
        svec_destroy(&prefixes);
        return;
    }
    const struct slbrec_vnet *other;
    SLBREC_VNET_FOR_EACH (other, ctx->idl) {
        if (other->vni == vni) {
            ctl_fatal("VNI %llu is already used by virtual network \"%s\"",
                      vni, other->name);
        }
    }

    struct slbrec_vnet *vnet = slbrec_vnet_insert(ctx->txn);
    slbrec_vnet_set_name(vnet, name);
    slbrec_vnet_set_vni(vnet, vni);
    slbrec_vnet_set_prefixes(vnet, (const char **) prefixes.names,
                             prefixes.n);
    svec_destroy(&prefixes);
}

static void
cmd_vnet_del(struct ctl_context *ctx)
{
    const struct slbrec_vnet *vnet = find_vnet(ctx, ctx->argv[1],
                                               !if_exists(ctx));
    if (!vnet) {
        return;
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, ctx->idl) {
        if (pool->vnet == vnet) {
            add_user(&users, "backend pool", pool->name);
        }
    }
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, ctx->idl) {
        if (fe->vnet == vnet) {
            add_user(&users, "frontend", fe->name);
        }
    }
    for (size_t i = 0; i < vnet->n_ports; i++) {
        add_user(&users, "VM", vnet->ports[i]->ca);
    }
    refuse_if_used(&users, "virtual network", vnet->name);
    slbrec_vnet_delete(vnet);
}

static void
cmd_vnet_list(struct ctl_context *ctx)
{
    list_all_vnet(ctx, "");
}

/* Hosts. */

/* Returns "host \"NAME\"" or "mux \"NAME\"", naming the host or mux whose
 * PA is 'ip', or NULL if none has it.  The caller frees it. */
static char *
pa_owner(const struct ctl_context *ctx, ovs_be32 ip)
{
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, ctx->idl) {
        ovs_be32 pa;
        if (ip_parse(host->pa, &pa) && pa == ip) {
            return xasprintf("host \"%s\"", host->name);
        }
    }
    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, ctx->idl) {
        ovs_be32 pa;
        if (ip_parse(mux->pa, &pa) && pa == ip) {
            return xasprintf("mux \"%s\"", mux->name);
        }
    }
    return NULL;
}

static const struct slbrec_vm *find_vm(const struct slbrec_vnet *,
                                       const char *ca);
static bool vm_is_port(const struct slbrec_vm *);

/* Returns true if 'ip' lies in one of the prefixes of 'vnet'. */
static bool
vnet_contains(const struct slbrec_vnet *vnet, const struct in6_addr *ip)
{
    for (size_t i = 0; i < vnet->n_prefixes; i++) {
        struct in6_addr net;
        unsigned int plen;
        char *error = slb_parse_addr_prefix("prefix", vnet->prefixes[i],
                                            &net, &plen);
        bool inside = !error && slb_addr_prefix_contains(&net, plen, ip);
        free(error);
        if (inside) {
            return true;
        }
    }
    return false;
}

/* Returns the frontend with VIP 'vip' among the internal frontends of
 * 'vnet', or among the public ones if 'vnet' is NULL, or NULL.  (slb-ctl
 * writes VIPs in one spelling, which the index finds.) */
static const struct slbrec_frontend *
find_frontend_by_vip(const struct in6_addr *vip,
                     const struct slbrec_vnet *vnet)
{
    char vip_s[SLB_ADDR_STRLEN];
    slb_addr_to_string(vip, vip_s);
    struct slbrec_frontend *key = slbrec_frontend_index_init_row(
        frontends_by_vip);
    slbrec_frontend_index_set_vip(key, vip_s);
    const struct slbrec_frontend *fe, *found = NULL;
    SLBREC_FRONTEND_FOR_EACH_EQUAL (fe, key, frontends_by_vip) {
        if (fe->vnet == vnet) {
            found = fe;
            break;
        }
    }
    slbrec_frontend_index_destroy_row(key);
    return found;
}

/* Fails if a host or a mux already has 'pa', or a public frontend has it as
 * its VIP (public VIPs and PAs share the provider network's routing). */
static void
check_pa_unique(const struct ctl_context *ctx, ovs_be32 pa)
{
    char *owner = pa_owner(ctx, pa);
    if (owner) {
        ctl_fatal("PA "IP_FMT" is already used by %s", IP_ARGS(pa), owner);
    }
    struct in6_addr pa6 = in6_addr_mapped_ipv4(pa);
    const struct slbrec_frontend *fe = find_frontend_by_vip(&pa6, NULL);
    if (fe) {
        ctl_fatal("PA "IP_FMT" is the VIP of frontend \"%s\"", IP_ARGS(pa),
                  fe->name);
    }
}

static void
cmd_host_add(struct ctl_context *ctx)
{
    const char *name = ctx->argv[1];
    ovs_be32 pa, gw;

    check(slb_parse_name("host name", name));
    check(slb_parse_unicast_ipv4("PA", ctx->argv[2], &pa));
    const char *gateway = ctx->argc > 3 ? ctx->argv[3] : NULL;
    if (gateway) {
        check(slb_parse_unicast_ipv4("gateway", gateway, &gw));
    }

    if (gateway && gw == pa) {
        ctl_fatal("gateway %s is the host's own PA", gateway);
    }
    char *gateway_mac = option_mac(ctx, "--gateway-mac");

    if (find_host(ctx, name, false)) {
        already_exists(ctx, "host", name);
        return;
    }
    check_pa_unique(ctx, pa);

    struct slbrec_host *host = slbrec_host_insert(ctx->txn);
    slbrec_host_set_name(host, name);
    char *pa_s = xasprintf(IP_FMT, IP_ARGS(pa));
    slbrec_host_set_pa(host, pa_s);
    free(pa_s);
    if (gateway) {
        char *gw_s = xasprintf(IP_FMT, IP_ARGS(gw));
        slbrec_host_set_gateway(host, gw_s);
        free(gw_s);
    }
    if (gateway_mac) {
        slbrec_host_update_options_setkey(host, "gateway-mac", gateway_mac);
        free(gateway_mac);
    }
}

static void
cmd_host_del(struct ctl_context *ctx)
{
    const struct slbrec_host *host = find_host(ctx, ctx->argv[1],
                                               !if_exists(ctx));
    if (!host) {
        return;
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, ctx->idl) {
        for (size_t i = 0; i < pool->n_members; i++) {
            const struct slbrec_vm *vm = pool->members[i];
            if (vm->host == host) {
                svec_add_nocopy(&users, xasprintf("backend %s of pool "
                                                  "\"%s\"", vm->ca,
                                                  pool->name));
            }
        }
    }
    refuse_if_used(&users, "host", host->name);

    /* What the host's agent reported goes with it. */
    const struct slbrec_host_status *hs = find_host_status(ctx, host->name,
                                                           false);
    if (hs) {
        slbrec_host_status_delete(hs);
    }
    const struct slbrec_backend_health *h;
    SLBREC_BACKEND_HEALTH_FOR_EACH (h, ctx->idl) {
        if (!strcmp(h->host_name, host->name)) {
            slbrec_backend_health_delete(h);
        }
    }
    const struct slbrec_vm_binding *vb;
    SLBREC_VM_BINDING_FOR_EACH (vb, ctx->idl) {
        if (!strcmp(vb->host_name, host->name)) {
            slbrec_vm_binding_delete(vb);
        }
    }
    slbrec_host_delete(host);
}

static void
cmd_host_list(struct ctl_context *ctx)
{
    list_all_host(ctx, "");
}

/* Muxes. */

static void
cmd_mux_add(struct ctl_context *ctx)
{
    const char *name = ctx->argv[1];
    ovs_be32 pa, router_id;
    unsigned long long int as;
    int64_t hold_time;

    check(slb_parse_name("mux name", name));
    check(slb_parse_unicast_ipv4("PA", ctx->argv[2], &pa));
    check(slb_parse_uint("AS number", ctx->argv[3], 1, UINT32_MAX, &as));
    check(slb_parse_ipv4("router id", ctx->argv[4], &router_id));
    if (!router_id) {
        ctl_fatal("invalid router id \"%s\": BGP identifiers are not zero",
                  ctx->argv[4]);
    }
    bool has_hold_time = option_uint(ctx, "--hold-time", 3, 65535,
                                     &hold_time);
    char *nexthop_mac = option_mac(ctx, "--nexthop-mac");
    const char *nexthop6 = shash_find_data(&ctx->options,
                                           "--bgp-nexthop-ipv6");
    if (nexthop6) {
        struct in6_addr ip6;
        if (!ipv6_parse(nexthop6, &ip6) || IN6_IS_ADDR_V4MAPPED(&ip6)) {
            ctl_fatal("invalid IPv6 next hop \"%s\": not an IPv6 address",
                      nexthop6);
        }
        check(slb_parse_overlay_addr("IPv6 next hop", nexthop6, &ip6));
    }

    if (find_mux(ctx, name, false)) {
        already_exists(ctx, "mux", name);
        return;
    }
    check_pa_unique(ctx, pa);
    const struct slbrec_mux *other;
    SLBREC_MUX_FOR_EACH (other, ctx->idl) {
        ovs_be32 ip;
        if (ip_parse(other->router_id, &ip) && ip == router_id) {
            ctl_fatal("router id "IP_FMT" is already mux \"%s\"'s",
                      IP_ARGS(router_id), other->name);
        }
    }

    struct slbrec_mux *mux = slbrec_mux_insert(ctx->txn);
    slbrec_mux_set_name(mux, name);
    char *s = xasprintf(IP_FMT, IP_ARGS(pa));
    slbrec_mux_set_pa(mux, s);
    free(s);
    slbrec_mux_set_local_as(mux, as);
    s = xasprintf(IP_FMT, IP_ARGS(router_id));
    slbrec_mux_set_router_id(mux, s);
    free(s);
    if (has_hold_time) {
        slbrec_mux_set_hold_time(mux, &hold_time, 1);
    }
    if (nexthop_mac) {
        slbrec_mux_update_options_setkey(mux, "nexthop-mac", nexthop_mac);
        free(nexthop_mac);
    }
    if (nexthop6) {
        slbrec_mux_update_options_setkey(mux, "bgp-nexthop-ipv6", nexthop6);
    }
}

static void
cmd_mux_del(struct ctl_context *ctx)
{
    const struct slbrec_mux *mux = find_mux(ctx, ctx->argv[1],
                                            !if_exists(ctx));
    if (mux) {
        for (size_t i = 0; i < mux->n_peers; i++) {
            slbrec_bgp_peer_delete(mux->peers[i]);
        }
        const struct slbrec_mux_status *ms = find_mux_status(ctx, mux->name,
                                                             false);
        if (ms) {
            slbrec_mux_status_delete(ms);
        }
        slbrec_mux_delete(mux);
    }
}

static void
cmd_mux_list(struct ctl_context *ctx)
{
    size_t n;
    const struct slbrec_mux **muxes = SORTED_ROWS(mux, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        format_mux(&ctx->output, muxes[i]);
    }
    free(muxes);
}

/* Parses a BGP peer's address: a unicast address, where, unlike elsewhere,
 * a loopback address is fine (a route server or a test on one machine). */
static char *
parse_peer_address(const char *s, ovs_be32 *address)
{
    *address = 0;
    char *error = slb_parse_unicast_ipv4("peer address", s, address);
    if (error && (ntohl(*address) >> 24) == 127) {
        free(error);
        error = NULL;
    }
    return error;
}

static const struct slbrec_bgp_peer *
find_peer(const struct slbrec_mux *mux, ovs_be32 address)
{
    for (size_t i = 0; i < mux->n_peers; i++) {
        ovs_be32 ip;
        if (ip_parse(mux->peers[i]->address, &ip) && ip == address) {
            return mux->peers[i];
        }
    }
    return NULL;
}

static void
cmd_mux_peer_add(struct ctl_context *ctx)
{
    const struct slbrec_mux *mux = find_mux(ctx, ctx->argv[1], true);
    ovs_be32 address;
    unsigned long long int as;

    check(parse_peer_address(ctx->argv[2], &address));
    check(slb_parse_uint("AS number", ctx->argv[3], 1, UINT32_MAX, &as));
    ovs_be32 pa;
    if (ip_parse(mux->pa, &pa) && pa == address) {
        ctl_fatal("peer address "IP_FMT" is mux \"%s\"'s own PA",
                  IP_ARGS(address), mux->name);
    }
    const char *password = shash_find_data(&ctx->options, "--password");
    if (password && !password[0]) {
        ctl_fatal("invalid --password: must not be empty");
    }
    if (password && strlen(password) > TCP_MD5SIG_MAXKEYLEN) {
        ctl_fatal("invalid --password: at most %d characters, as Linux "
                  "takes for a TCP-MD5 key", TCP_MD5SIG_MAXKEYLEN);
    }

    if (find_peer(mux, address)) {
        if (shash_find(&ctx->options, "--may-exist")) {
            return;
        }
        ctl_fatal("mux \"%s\" already has peer "IP_FMT, mux->name,
                  IP_ARGS(address));
    }

    struct slbrec_bgp_peer *peer = slbrec_bgp_peer_insert(ctx->txn);
    char *s = xasprintf(IP_FMT, IP_ARGS(address));
    slbrec_bgp_peer_set_address(peer, s);
    free(s);
    slbrec_bgp_peer_set_remote_as(peer, as);
    if (password) {
        slbrec_bgp_peer_set_password(peer, password);
    }
    SET_ADD(mux, mux, peers, peer);
}

static void
cmd_mux_peer_del(struct ctl_context *ctx)
{
    const struct slbrec_mux *mux = find_mux(ctx, ctx->argv[1], true);
    ovs_be32 address;

    check(parse_peer_address(ctx->argv[2], &address));
    const struct slbrec_bgp_peer *peer = find_peer(mux, address);
    if (!peer) {
        if (if_exists(ctx)) {
            return;
        }
        ctl_fatal("mux \"%s\" has no peer "IP_FMT, mux->name,
                  IP_ARGS(address));
    }
    SET_DEL(mux, mux, peers, peer);
    slbrec_bgp_peer_delete(peer);
}

static void
cmd_mux_peer_list(struct ctl_context *ctx)
{
    format_peers(&ctx->output, ctx, find_mux(ctx, ctx->argv[1], true),
                 "");
}

/* Load balancers. */

static void
pre_lb_add(struct ctl_context *ctx)
{
    read_load_balancer(ctx->argv[1]);
}

static void
cmd_lb_add(struct ctl_context *ctx)
{
    const char *name = ctx->argv[1];

    check(slb_parse_name("load balancer name", name));
    if (find_load_balancer(ctx, name, false)) {
        already_exists(ctx, "load balancer", name);
        return;
    }
    struct slbrec_load_balancer *lb = slbrec_load_balancer_insert(ctx->txn);
    slbrec_load_balancer_set_name(lb, name);
}

static void delete_outbound_rule(const struct slbrec_load_balancer *,
                                 const struct slbrec_outbound_rule *);

static void
cmd_lb_del(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], !if_exists(ctx));
    if (!lb) {
        return;
    }

    /* Delete the children explicitly, rather than leaving them to the
     * database's garbage collection, so that later commands of the same
     * invocation do not see them. */
    for (size_t i = 0; i < lb->n_outbound_rules; i++) {
        delete_outbound_rule(NULL, lb->outbound_rules[i]);
    }
    for (size_t i = 0; i < lb->n_rules; i++) {
        slbrec_lb_rule_delete(lb->rules[i]);
    }
    for (size_t i = 0; i < lb->n_inbound_nat_rules; i++) {
        slbrec_inbound_nat_rule_delete(lb->inbound_nat_rules[i]);
    }
    for (size_t i = 0; i < lb->n_inbound_nat_pools; i++) {
        delete_nat_pool(lb->inbound_nat_pools[i]);
    }
    for (size_t i = 0; i < lb->n_probes; i++) {
        slbrec_probe_delete(lb->probes[i]);
    }
    for (size_t i = 0; i < lb->n_backend_pools; i++) {
        slbrec_backend_pool_delete(lb->backend_pools[i]);
    }
    for (size_t i = 0; i < lb->n_frontends; i++) {
        slbrec_frontend_delete(lb->frontends[i]);
    }
    slbrec_load_balancer_delete(lb);
}

static void
cmd_lb_list(struct ctl_context *ctx)
{
    size_t n;
    const struct slbrec_load_balancer **lbs
        = SORTED_ROWS(load_balancer, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        const struct slbrec_load_balancer *lb = lbs[i];
        ds_put_format(&ctx->output, "%s: %"PRIuSIZE" frontends, "
                      "%"PRIuSIZE" pools, %"PRIuSIZE" probes, %"PRIuSIZE
                      " rules, %"PRIuSIZE" inbound NAT rules, %"PRIuSIZE
                      " outbound rules\n", lb->name, lb->n_frontends,
                      lb->n_backend_pools, lb->n_probes, lb->n_rules,
                      lb->n_inbound_nat_rules, lb->n_outbound_rules);
    }
    free(lbs);
}

/* Returns the load balancer named by the command's first argument, or with
 * an optional argument absent, NULL (meaning "all"). */
static const struct slbrec_load_balancer *
optional_lb(const struct ctl_context *ctx)
{
    return ctx->argc > 1 ? find_load_balancer(ctx, ctx->argv[1], true)
                         : NULL;
}

/* Frontends. */

/* Asks READ_ROWS for the rows whose 'column' is the address 's', IPv4 or
 * IPv6, in the one spelling that slb-ctl writes, if 's' is one. */
#define READ_ADDR(TABLE, COLUMN, S)                                     \
    do {                                                                \
        struct in6_addr a_;                                             \
        if (slb_addr_from_string(S, &a_)) {                             \
            char s_[SLB_ADDR_STRLEN];                                   \
            READ(TABLE, COLUMN, OVSDB_F_EQ, slb_addr_to_string(&a_, s_)); \
        }                                                               \
    } while (0)

static void
pre_frontend_add(struct ctl_context *ctx)
{
    read_load_balancer(ctx->argv[1]);
    read_frontend(ctx->argv[2]);
    READ_ADDR(frontend, vip, ctx->argv[3]);
    READ_ADDR(vm, ca, ctx->argv[3]);
}

static void
cmd_frontend_add(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];
    bool internal = shash_find(&ctx->options, "--internal") != NULL;
    const char *vnet_name = shash_find_data(&ctx->options, "--vnet");
    struct in6_addr vip;
    char vip_s[SLB_ADDR_STRLEN];

    check(slb_parse_name("frontend name", name));
    check(slb_parse_overlay_addr("VIP", ctx->argv[3], &vip));
    slb_addr_to_string(&vip, vip_s);
    if (internal != (vnet_name != NULL)) {
        ctl_fatal("an internal frontend needs --vnet, and only an internal "
                  "one takes it");
    }
    const struct slbrec_vnet *vnet = (vnet_name
                                      ? find_vnet(ctx, vnet_name, true)
                                      : NULL);

    if (find_frontend(ctx, name, false)) {
        already_exists(ctx, "frontend", name);
        return;
    }
    if (!vnet) {
        char *owner = (IN6_IS_ADDR_V4MAPPED(&vip)
                       ? pa_owner(ctx, in6_addr_get_mapped_ipv4(&vip))
                       : NULL);
        if (owner) {
            ctl_fatal("VIP %s is the PA of %s", vip_s, owner);
        }
    } else {
        /* An internal VIP is an address of its network that no VM has. */
        if (vnet->n_prefixes && !vnet_contains(vnet, &vip)) {
            ctl_fatal("internal VIP %s is outside the prefixes of virtual "
                      "network \"%s\"", vip_s, vnet->name);
        }
        if (find_vm(vnet, vip_s)) {
            ctl_fatal("internal VIP %s is a CA of virtual network \"%s\"",
                      vip_s, vnet->name);
        }
    }

    /* A VIP is unique among public frontends, and among the internal
     * frontends of one virtual network. */
    const struct slbrec_frontend *other = find_frontend_by_vip(&vip, vnet);
    if (other) {
        ctl_fatal("VIP %s is already frontend \"%s\"", vip_s, other->name);
    }

    struct slbrec_frontend *fe = slbrec_frontend_insert(ctx->txn);
    slbrec_frontend_set_name(fe, name);
    slbrec_frontend_set_vip(fe, vip_s);
    slbrec_frontend_set_type(fe, internal ? "internal" : "public");
    if (vnet) {
        slbrec_frontend_set_vnet(fe, vnet);
    }
    SET_ADD(load_balancer, lb, frontends, fe);
}

static void
cmd_frontend_del(struct ctl_context *ctx)
{
    const struct slbrec_frontend *fe = find_frontend(ctx, ctx->argv[1],
                                                     !if_exists(ctx));
    if (!fe) {
        return;
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, ctx->idl) {
        if (rule->frontend == fe) {
            add_user(&users, "load-balancing rule", rule->name);
        }
    }
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nat, ctx->idl) {
        if (nat->frontend == fe && !nat_pool_mapping(nat)) {
            add_user(&users, "inbound NAT rule", nat->name);
        }
    }
    const struct slbrec_inbound_nat_pool *np;
    SLBREC_INBOUND_NAT_POOL_FOR_EACH (np, ctx->idl) {
        if (np->frontend == fe) {
            add_user(&users, "inbound NAT pool", np->name);
        }
    }
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, ctx->idl) {
        for (size_t i = 0; i < out->n_frontends; i++) {
            if (out->frontends[i] == fe) {
                add_user(&users, "outbound rule", out->name);
            }
        }
    }
    refuse_if_used(&users, "frontend", fe->name);

    const struct slbrec_load_balancer *lb = owner_of_frontend(ctx, fe);
    if (lb) {
        SET_DEL(load_balancer, lb, frontends, fe);
    }
    slbrec_frontend_delete(fe);
}

static void
cmd_frontend_list(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *only = optional_lb(ctx);
    size_t n;
    const struct slbrec_frontend **fes = SORTED_ROWS(frontend, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        if (!only || owner_of_frontend(ctx, fes[i]) == only) {
            format_frontend(&ctx->output, fes[i]);
        }
    }
    free(fes);
}

/* Backend pools and backends. */

static void
pre_pool_add(struct ctl_context *ctx)
{
    read_load_balancer(ctx->argv[1]);
    read_backend_pool(ctx->argv[2]);
}

static void
cmd_pool_add(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];

    check(slb_parse_name("backend pool name", name));
    const struct slbrec_vnet *vnet = find_vnet(ctx, ctx->argv[3], true);
    if (find_backend_pool(ctx, name, false)) {
        already_exists(ctx, "backend pool", name);
        return;
    }

    struct slbrec_backend_pool *pool = slbrec_backend_pool_insert(ctx->txn);
    slbrec_backend_pool_set_name(pool, name);
    slbrec_backend_pool_set_vnet(pool, vnet);
    SET_ADD(load_balancer, lb, backend_pools, pool);
}

static void
cmd_pool_del(struct ctl_context *ctx)
{
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[1], !if_exists(ctx));
    if (!pool) {
        return;
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, ctx->idl) {
        if (rule->pool == pool) {
            add_user(&users, "load-balancing rule", rule->name);
        }
    }
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, ctx->idl) {
        if (out->pool == pool) {
            add_user(&users, "outbound rule", out->name);
        }
    }
    const struct slbrec_inbound_nat_pool *np;
    SLBREC_INBOUND_NAT_POOL_FOR_EACH (np, ctx->idl) {
        if (np->pool == pool) {
            add_user(&users, "inbound NAT pool", np->name);
        }
    }
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nat, ctx->idl) {
        for (size_t i = 0; i < pool->n_members; i++) {
            if (nat->vm == pool->members[i] && !nat_pool_mapping(nat)) {
                add_user(&users, "inbound NAT rule", nat->name);
            }
        }
    }
    refuse_if_used(&users, "backend pool", pool->name);

    const struct slbrec_load_balancer *lb = owner_of_backend_pool(ctx, pool);
    if (lb) {
        SET_DEL(load_balancer, lb, backend_pools, pool);
    }
    slbrec_backend_pool_delete(pool);
}

static void
cmd_pool_list(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *only = optional_lb(ctx);
    size_t n;
    const struct slbrec_backend_pool **pools
        = SORTED_ROWS(backend_pool, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        if (!only || owner_of_backend_pool(ctx, pools[i]) == only) {
            format_pool(&ctx->output, pools[i]);
        }
    }
    free(pools);
}

static uint16_t *snat_blocked_ports(const struct ctl_context *,
                                    const struct slbrec_frontend *,
                                    const char *protocol, size_t *n);
static void nat_pool_refresh(struct ctl_context *,
                             const struct slbrec_inbound_nat_pool *);
static void read_snat_claims(const struct ctl_context *);

/* Brings the SNAT allocations of outbound 'rule' in line with its pool and
 * frontends: one range per backend and frontend, computed by
 * snat_allocate() from the current ranges, so that existing ranges stay
 * where they are, leaving out the ports of the frontend's rules of one
 * port. */
static void
snat_refresh(struct ctl_context *ctx, const struct slbrec_outbound_rule *rule)
{
    const struct slbrec_backend_pool *pool = rule->pool;
    size_t n = pool->n_members;
    struct slbrec_vm **backends = sorted_backends(pool);
    /* Ports per instance count all of the rule's frontend IPs: each VM
     * gets its share on each, a multiple of SNAT_PORT_ALIGN. */
    unsigned int total = (rule->n_ports_per_instance
                          ? rule->ports_per_instance[0] : 0);
    size_t n_fes = MAX(rule->n_frontends, 1);
    unsigned int requested = ROUND_UP(DIV_ROUND_UP(total, n_fes),
                                      SNAT_PORT_ALIGN);
    struct snat_range *old = xcalloc(n + 1, sizeof *old);
    struct snat_range *new = xcalloc(n + 1, sizeof *new);
    const struct slbrec_snat_allocation **current
        = xcalloc(n + 1, sizeof *current);

    /* The allocations that the rule keeps or gains. */
    size_t n_keep = 0;
    struct slbrec_snat_allocation **keep
        = xmalloc((rule->n_allocations + n * rule->n_frontends + 1)
                  * sizeof *keep);

    /* By name, so that a refusal names the same frontend every time. */
    const struct slbrec_frontend **fes = SORTED_REFS(frontend,
                                                     rule->frontends,
                                                     rule->n_frontends);
    for (size_t f = 0; f < rule->n_frontends; f++) {
        const struct slbrec_frontend *fe = fes[f];

        /* The current range of each backend on this frontend. */
        memset(old, 0, n * sizeof *old);
        memset(current, 0, n * sizeof *current);
        for (size_t a = 0; a < rule->n_allocations; a++) {
            const struct slbrec_snat_allocation *alloc
                = rule->allocations[a];
            for (size_t i = 0; i < n; i++) {
                if (alloc->frontend == fe && alloc->vm == backends[i]
                    && !current[i]) {
                    current[i] = alloc;
                    old[i].min = alloc->port_min;
                    old[i].max = alloc->port_max;
                }
            }
        }

        size_t n_blocked;
        uint16_t *blocked = snat_blocked_ports(ctx, fe, rule->protocol,
                                               &n_blocked);
        char *error = snat_allocate(old, n, requested, blocked, n_blocked,
                                    new);
        free(blocked);
        if (error) {
            /* Over several frontends, say where the share came from. */
            char *over = (n_fes > 1 && total
                          ? xasprintf(" (%u ports per instance over %"
                                      PRIuSIZE" frontend IPs)", total, n_fes)
                          : xstrdup(""));
            check(xasprintf("outbound rule \"%s\" on VIP %s: %s%s",
                            rule->name, fe->vip, error, over));
        }

        for (size_t i = 0; i < n; i++) {
            const struct slbrec_snat_allocation *alloc = current[i];
            if (!alloc) {
                struct slbrec_snat_allocation *a
                    = slbrec_snat_allocation_insert(ctx->txn);
                slbrec_snat_allocation_set_frontend(a, fe);
                slbrec_snat_allocation_set_vm(a, backends[i]);
                alloc = a;
            }
            if (alloc->outbound_rule != rule) {
                slbrec_snat_allocation_set_outbound_rule(alloc, rule);
            }
            if (alloc->port_min != new[i].min) {
                slbrec_snat_allocation_set_port_min(alloc, new[i].min);
            }
            if (alloc->port_max != new[i].max) {
                slbrec_snat_allocation_set_port_max(alloc, new[i].max);
            }
            keep[n_keep++] = CONST_CAST(struct slbrec_snat_allocation *,
                                        alloc);
        }
    }

    /* Whatever is left belongs to backends or frontends that are gone. */
    for (size_t a = 0; a < rule->n_allocations; a++) {
        bool kept = false;
        for (size_t k = 0; k < n_keep && !kept; k++) {
            kept = keep[k] == rule->allocations[a];
        }
        if (!kept) {
            slbrec_snat_allocation_delete(rule->allocations[a]);
        }
    }
    slbrec_outbound_rule_set_allocations(rule, keep, n_keep);

    free(fes);
    free(keep);
    free(current);
    free(new);
    free(old);
    free(backends);
}

/* Brings what follows the backends of 'pool' in line with them, after a
 * backend came or went: the SNAT allocations of the outbound rules over
 * it and the mappings of the inbound NAT pools over it. */
static void
refresh_pool_followers(struct ctl_context *ctx,
                       const struct slbrec_backend_pool *pool)
{
    const struct slbrec_outbound_rule *rule;
    SLBREC_OUTBOUND_RULE_FOR_EACH (rule, ctx->idl) {
        if (rule->pool == pool) {
            snat_refresh(ctx, rule);
        }
    }
    const struct slbrec_inbound_nat_pool *np;
    SLBREC_INBOUND_NAT_POOL_FOR_EACH (np, ctx->idl) {
        if (np->pool == pool) {
            nat_pool_refresh(ctx, np);
        }
    }
}

/* Returns a pool that has 'vm' as a backend, or NULL. */
static const struct slbrec_backend_pool *
pool_of_vm(const struct slbrec_vm *vm)
{
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, the_idl) {
        for (size_t i = 0; i < pool->n_members; i++) {
            if (pool->members[i] == vm) {
                return pool;
            }
        }
    }
    return NULL;
}

/* Returns true if a pool has 'vm' as a backend.  A VM row without one goes
 * when the transaction commits, so that it is free to take another host,
 * MAC or port. */
static bool
vm_has_backends(const struct slbrec_vm *vm)
{
    if (read_mode == READ_ROWS) {
        /* The replica holds only some pools of a VM, but a VM row in the
         * database always is a port or a backend (the database drops it
         * otherwise), as is one that this invocation inserted, and no
         * command that reads rows deletes a pool. */
        return true;
    }
    return pool_of_vm(vm) != NULL;
}

/* Returns the VM with address 'ca' in 'vnet', or NULL. */
static const struct slbrec_vm *
find_vm(const struct slbrec_vnet *vnet, const char *ca)
{
    struct slbrec_vm *key = slbrec_vm_index_init_row(vms_by_ca);
    slbrec_vm_index_set_ca(key, ca);
    const struct slbrec_vm *vm, *found = NULL;
    SLBREC_VM_FOR_EACH_EQUAL (vm, key, vms_by_ca) {
        if (vm->vnet == vnet && (vm_has_backends(vm) || vm_is_port(vm))) {
            found = vm;
            break;
        }
    }
    slbrec_vm_index_destroy_row(key);
    return found;
}

/* Returns true if 'vm' is one of its network's ports (VNet "ports"). */
static bool
vm_is_port(const struct slbrec_vm *vm)
{
    for (size_t i = 0; vm->vnet && i < vm->vnet->n_ports; i++) {
        if (vm->vnet->ports[i] == vm) {
            return true;
        }
    }
    return false;
}

/* Returns the VM with CA 'ca' in 'vnet', on 'host', creating it if it
 * does not exist, with MAC '*mac' and iface-id 'iface_id' if nonnull.
 * Fails if the CA is not the network's, or is one of its internal VIPs, or
 * if the VM exists on another host or with another MAC or iface-id: a CA
 * of one virtual network is one VM, on one host, with one MAC and one
 * port, which its backends in all pools share.  (Every writer of VM rows
 * checks CAs, so they are in canonical form.) */
static const struct slbrec_vm *
get_vm(struct ctl_context *ctx, const struct slbrec_vnet *vnet,
       const struct in6_addr *ca, const struct slbrec_host *host,
       const struct eth_addr *mac, const char *iface_id)
{
    char ca_s[SLB_ADDR_STRLEN];
    slb_addr_to_string(ca, ca_s);
    if (vnet->n_prefixes && !vnet_contains(vnet, ca)) {
        ctl_fatal("CA %s is outside the prefixes of virtual network \"%s\"",
                  ca_s, vnet->name);
    }
    const struct slbrec_frontend *fe = find_frontend_by_vip(ca, vnet);
    if (fe) {
        ctl_fatal("CA %s is the VIP of internal frontend \"%s\"", ca_s,
                  fe->name);
    }

    const struct slbrec_vm *vm = find_vm(vnet, ca_s);
    char *mac_canon = (mac ? xasprintf(ETH_ADDR_FMT, ETH_ADDR_ARGS(*mac))
                       : NULL);
    if (vm) {
        if (vm->host && vm->host != host) {
            ctl_fatal("CA %s of virtual network \"%s\" is already on "
                      "host \"%s\"", ca_s, vnet->name, vm->host->name);
        }
        if (mac_canon && vm->mac && strcmp(vm->mac, mac_canon)) {
            ctl_fatal("CA %s of virtual network \"%s\" already has MAC %s",
                      ca_s, vnet->name, vm->mac);
        }
        if (iface_id && vm->iface_id && strcmp(vm->iface_id, iface_id)) {
            ctl_fatal("CA %s of virtual network \"%s\" already has "
                      "iface-id %s", ca_s, vnet->name, vm->iface_id);
        }
    } else {
        struct slbrec_vm *new_vm = slbrec_vm_insert(ctx->txn);
        slbrec_vm_set_ca(new_vm, ca_s);
        slbrec_vm_set_vnet(new_vm, vnet);
        vm = new_vm;
    }
    slbrec_vm_set_host(vm, host);
    if (mac_canon) {
        slbrec_vm_set_mac(vm, mac_canon);
        free(mac_canon);
    }
    if (iface_id) {
        slbrec_vm_set_iface_id(vm, iface_id);
    }
    return vm;
}

/* Returns the MAC of option --mac of 'ctx', stored in '*mac', or NULL
 * without the option, and stores option --iface-id in '*iface_id' (NULL
 * without it).  Fails if either is invalid. */
static const struct eth_addr *
vm_options(const struct ctl_context *ctx, struct eth_addr *mac,
           const char **iface_id)
{
    const char *mac_s = shash_find_data(&ctx->options, "--mac");
    if (mac_s) {
        check(slb_parse_mac("MAC", mac_s, mac));
    }
    *iface_id = shash_find_data(&ctx->options, "--iface-id");
    if (*iface_id && !(*iface_id)[0]) {
        ctl_fatal("invalid --iface-id: must not be empty");
    }
    return mac_s ? mac : NULL;
}

/* VM ports: VMs of a virtual network that exist on their own, whether or
 * not they are backends. */

static void
pre_vm_add(struct ctl_context *ctx)
{
    READ_ADDR(vm, ca, ctx->argv[2]);
    READ_ADDR(frontend, vip, ctx->argv[2]);
}

static void
cmd_vm_add(struct ctl_context *ctx)
{
    const struct slbrec_vnet *vnet = find_vnet(ctx, ctx->argv[1], true);
    struct in6_addr ca;
    check(slb_parse_overlay_addr("CA", ctx->argv[2], &ca));
    const struct slbrec_host *host = find_host(ctx, ctx->argv[3], true);
    struct eth_addr mac_buf;
    const char *iface_id;
    const struct eth_addr *mac = vm_options(ctx, &mac_buf, &iface_id);

    char ca_s[SLB_ADDR_STRLEN];
    slb_addr_to_string(&ca, ca_s);
    const struct slbrec_vm *old = find_vm(vnet, ca_s);
    if (old && vm_is_port(old)) {
        if (shash_find(&ctx->options, "--may-exist")) {
            return;
        }
        ctl_fatal("virtual network \"%s\" already has VM %s", vnet->name,
                  ca_s);
    }
    const struct slbrec_vm *vm = get_vm(ctx, vnet, &ca, host, mac,
                                        iface_id);
    slbrec_vnet_update_ports_addvalue(vnet, vm);
}

static void
cmd_vm_del(struct ctl_context *ctx)
{
    const struct slbrec_vnet *vnet = find_vnet(ctx, ctx->argv[1], true);
    struct in6_addr ca;
    check(slb_parse_overlay_addr("CA", ctx->argv[2], &ca));
    char ca_s[SLB_ADDR_STRLEN];
    slb_addr_to_string(&ca, ca_s);
    const struct slbrec_vm *vm = find_vm(vnet, ca_s);
    if (!vm || !vm_is_port(vm)) {
        if (if_exists(ctx)) {
            return;
        }
        ctl_fatal("virtual network \"%s\" has no VM %s", vnet->name, ca_s);
    }

    const struct slbrec_backend_pool *pool = pool_of_vm(vm);
    if (pool) {
        ctl_fatal("VM %s of virtual network \"%s\" is a backend of pool "
                  "\"%s\": delete its backends first", ca_s, vnet->name,
                  pool->name);
    }
    slbrec_vnet_update_ports_delvalue(vnet, vm);
}

static int
compare_vms(const void *a_, const void *b_)
{
    const struct slbrec_vm *const *a = a_, *const *b = b_;
    int cmp = strcmp((*a)->vnet ? (*a)->vnet->name : "",
                     (*b)->vnet ? (*b)->vnet->name : "");
    return cmp ? cmp : compare_addrs((*a)->ca, (*b)->ca);
}

/* "vm-list [VNET]": every VM, each as "VNET CA on HOST [mac MAC] [iface-id
 * ID]: port|backend, N backends". */
static void
cmd_vm_list(struct ctl_context *ctx)
{
    const struct slbrec_vnet *only = (ctx->argc > 1
                                      ? find_vnet(ctx, ctx->argv[1], true)
                                      : NULL);
    /* How many pools have each VM as a backend. */
    struct shash counts = SHASH_INITIALIZER(&counts);
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, ctx->idl) {
        for (size_t i = 0; i < pool->n_members; i++) {
            char *key = xasprintf(UUID_FMT, UUID_ARGS(
                                      &pool->members[i]->header_.uuid));
            size_t *count = shash_find_data(&counts, key);
            if (!count) {
                count = xzalloc(sizeof *count);
                shash_add_nocopy(&counts, key, count);
            } else {
                free(key);
            }
            ++*count;
        }
    }

    const struct slbrec_vm **vms = NULL;
    size_t n = 0, allocated = 0;
    const struct slbrec_vm *vm;
    SLBREC_VM_FOR_EACH (vm, ctx->idl) {
        char *key = xasprintf(UUID_FMT, UUID_ARGS(&vm->header_.uuid));
        bool backend = shash_find(&counts, key) != NULL;
        free(key);
        if ((!only || vm->vnet == only) && (vm_is_port(vm) || backend)) {
            if (n >= allocated) {
                vms = x2nrealloc(vms, &allocated, sizeof *vms);
            }
            vms[n++] = vm;
        }
    }
    if (n) {
        qsort(vms, n, sizeof *vms, compare_vms);
    }
    for (size_t i = 0; i < n; i++) {
        vm = vms[i];
        char *key = xasprintf(UUID_FMT, UUID_ARGS(&vm->header_.uuid));
        const size_t *count = shash_find_data(&counts, key);
        size_t n_backends = count ? *count : 0;
        free(key);
        ds_put_format(&ctx->output, "%s %s on %s",
                      vm->vnet ? vm->vnet->name : "(none)", vm->ca,
                      vm->host ? vm->host->name : "(no host)");
        if (vm->mac) {
            ds_put_format(&ctx->output, " mac %s", vm->mac);
        }
        if (vm->iface_id) {
            ds_put_format(&ctx->output, " iface-id %s", vm->iface_id);
        }
        ds_put_format(&ctx->output, ": %s, %"PRIuSIZE" backends\n",
                      vm_is_port(vm) ? "port" : "backend only", n_backends);
    }
    free(vms);
    shash_destroy_free_data(&counts);
}

/* Returns the admin state that 's' names, or fails. */
static enum slb_admin_state
parse_admin_state(const char *s)
{
    static const char *const names[] = { "none", "up", "down", NULL };
    int state;
    check(slb_parse_enum("admin state", s, names, &state));
    return (state == 1 ? SLB_ADMIN_UP
            : state == 2 ? SLB_ADMIN_DOWN
            : SLB_ADMIN_NONE);
}

/* Reads the pool, the VMs with the backend's CA, the outbound rules whose
 * SNAT allocations the new backend changes, and the pool's rules, whose
 * rows (with their frontends and probes) the backend's host may come to
 * read (see lib/hosts.h). */
/* Sets in map column COLUMN (weights or admin_states, of values of
 * VALUE_TYPE) of 'POOL' the value of backend 'VM' to VALUE, or leaves 'VM'
 * out of the map if DEFAULT.  The whole map is written, so that a later
 * command of the same invocation sees it (see SET_ADD). */
#define SET_BACKEND_VALUE(POOL, COLUMN, VALUE_TYPE, VM, VALUE, DEFAULT)  \
    do {                                                                \
        size_t n_ = (POOL)->n_##COLUMN;                                 \
        struct slbrec_vm **keys_ = xmalloc((n_ + 1) * sizeof *keys_);   \
        VALUE_TYPE *values_ = xmalloc((n_ + 1) * sizeof *values_);      \
        size_t k_ = 0;                                                  \
        for (size_t i_ = 0; i_ < n_; i_++) {                            \
            if ((POOL)->key_##COLUMN[i_] != (VM)) {                     \
                keys_[k_] = (POOL)->key_##COLUMN[i_];                   \
                values_[k_++] = (POOL)->value_##COLUMN[i_];             \
            }                                                           \
        }                                                               \
        if (!(DEFAULT)) {                                               \
            keys_[k_] = CONST_CAST(struct slbrec_vm *, VM);             \
            values_[k_++] = (VALUE);                                    \
        }                                                               \
        if (k_ != n_ || !(DEFAULT)) {                                   \
            slbrec_backend_pool_set_##COLUMN(POOL, keys_, values_, k_); \
        }                                                               \
        free(keys_);                                                    \
        free(values_);                                                  \
    } while (0)

/* Sets the weight of backend 'vm' of 'pool': 1 is the default, which the
 * pool's map leaves out. */
static void
set_backend_weight(const struct slbrec_backend_pool *pool,
                   const struct slbrec_vm *vm, int64_t weight)
{
    SET_BACKEND_VALUE(pool, weights, int64_t, vm, weight, weight == 1);
}

/* Sets the admin state of backend 'vm' of 'pool': none is the default,
 * which the pool's map leaves out. */
static void
set_backend_admin_state(const struct slbrec_backend_pool *pool,
                        const struct slbrec_vm *vm,
                        enum slb_admin_state state)
{
    SET_BACKEND_VALUE(pool, admin_states, const char *, vm,
                      slb_admin_state_name(state), state == SLB_ADMIN_NONE);
}

static void
pre_backend_add(struct ctl_context *ctx)
{
    read_backend_pool(ctx->argv[1]);
    READ_ADDR(vm, ca, ctx->argv[2]);
    READ_ADDR(frontend, vip, ctx->argv[2]);
    const struct slbrec_backend_pool *pool = find_backend_pool(
        ctx, ctx->argv[1], false);
    if (pool) {
        READ(outbound_rule, pool, OVSDB_F_EQ, &pool->header_.uuid);
        READ(lb_rule, pool, OVSDB_F_EQ, &pool->header_.uuid);
        read_snat_claims(ctx);
        read_nat_pools_of(ctx, pool);
    }
}

static void
cmd_backend_add(struct ctl_context *ctx)
{
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[1], true);
    struct in6_addr ca;
    check(slb_parse_overlay_addr("CA", ctx->argv[2], &ca));
    char ca_s[SLB_ADDR_STRLEN];
    slb_addr_to_string(&ca, ca_s);
    const struct slbrec_host *host = find_host(ctx, ctx->argv[3], true);

    if (!pool->vnet) {
        ctl_fatal("backend pool \"%s\" has no virtual network", pool->name);
    }
    const char *vnet_name = shash_find_data(&ctx->options, "--vnet");
    if (vnet_name && find_vnet(ctx, vnet_name, true) != pool->vnet) {
        ctl_fatal("backend %s in virtual network \"%s\" cannot join pool "
                  "\"%s\" of virtual network \"%s\"", ca_s, vnet_name,
                  pool->name, pool->vnet->name);
    }
    check_pool_family(pool, &ca, "backend");
    check_pool_rules_family(ctx, pool, &ca);
    const struct slbrec_vnet *vnet = pool->vnet;

    struct eth_addr mac_buf;
    const char *iface_id;
    const struct eth_addr *mac = vm_options(ctx, &mac_buf, &iface_id);
    int64_t weight;
    bool has_weight = option_uint(ctx, "--weight", 0, 1000, &weight);
    const char *admin = shash_find_data(&ctx->options, "--admin-state");
    enum slb_admin_state admin_state = (admin
                                        ? parse_admin_state(admin)
                                        : SLB_ADMIN_NONE);

    if (find_backend(pool, &ca)) {
        if (shash_find(&ctx->options, "--may-exist")) {
            return;
        }
        ctl_fatal("pool \"%s\" already has backend %s", pool->name, ca_s);
    }

    const struct slbrec_vm *vm = get_vm(ctx, vnet, &ca, host, mac,
                                        iface_id);

    SET_ADD(backend_pool, pool, members, vm);
    if (has_weight) {
        set_backend_weight(pool, vm, weight);
    }
    set_backend_admin_state(pool, vm, admin_state);
    refresh_pool_followers(ctx, pool);
}

static void
pre_backend_admin(struct ctl_context *ctx)
{
    read_backend_pool(ctx->argv[1]);
    READ_ADDR(vm, ca, ctx->argv[2]);
}

/* Returns the backend of 'pool' whose CA is 's', or fails. */
static const struct slbrec_vm *
get_backend(const struct slbrec_backend_pool *pool, const char *s)
{
    struct in6_addr ca;
    check(slb_parse_addr("CA", s, &ca));
    const struct slbrec_vm *vm = find_backend(pool, &ca);
    if (!vm) {
        char buf[SLB_ADDR_STRLEN];
        ctl_fatal("pool \"%s\" has no backend %s", pool->name,
                  slb_addr_to_string(&ca, buf));
    }
    return vm;
}

/* "backend-admin POOL CA up|down|none": what the operator says of a
 * backend, above its probes. */
static void
cmd_backend_admin(struct ctl_context *ctx)
{
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[1], true);
    const struct slbrec_vm *vm = get_backend(pool, ctx->argv[2]);
    set_backend_admin_state(pool, vm, parse_admin_state(ctx->argv[3]));
}

/* "backend-weight POOL CA WEIGHT": a backend's share of new flows. */
static void
cmd_backend_weight(struct ctl_context *ctx)
{
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[1], true);
    const struct slbrec_vm *vm = get_backend(pool, ctx->argv[2]);
    unsigned long long int weight;
    check(slb_parse_uint("weight", ctx->argv[3], 0, 1000, &weight));
    set_backend_weight(pool, vm, weight);
}

static void
cmd_backend_del(struct ctl_context *ctx)
{
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[1], true);
    struct in6_addr ca;
    check(slb_parse_addr("CA", ctx->argv[2], &ca));

    const struct slbrec_vm *vm = find_backend(pool, &ca);
    if (!vm) {
        if (if_exists(ctx)) {
            return;
        }
        char buf[SLB_ADDR_STRLEN];
        ctl_fatal("pool \"%s\" has no backend %s", pool->name,
                  slb_addr_to_string(&ca, buf));
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nat, ctx->idl) {
        if (nat->vm == vm && !nat_pool_mapping(nat)) {
            add_user(&users, "inbound NAT rule", nat->name);
        }
    }
    refuse_if_used(&users, "backend", backend_ca(vm));

    SET_DEL(backend_pool, pool, members, vm);
    set_backend_weight(pool, vm, 1);
    set_backend_admin_state(pool, vm, SLB_ADMIN_NONE);
    refresh_pool_followers(ctx, pool);
}

static void
cmd_backend_list(struct ctl_context *ctx)
{
    size_t n;
    const struct slbrec_backend_pool **pools
        = SORTED_ROWS(backend_pool, ctx->idl, &n);
    const struct slbrec_backend_pool *only
        = ctx->argc > 1 ? find_backend_pool(ctx, ctx->argv[1], true) : NULL;

    for (size_t i = 0; i < n; i++) {
        if (only && pools[i] != only) {
            continue;
        }
        struct slbrec_vm **backends = sorted_backends(pools[i]);
        for (size_t j = 0; j < pools[i]->n_members; j++) {
            if (!only) {
                ds_put_format(&ctx->output, "%s ", pools[i]->name);
            }
            format_backend(&ctx->output, pools[i], backends[j]);
        }
        free(backends);
    }
    free(pools);
}

/* Probes. */

static void
pre_probe_add(struct ctl_context *ctx)
{
    read_load_balancer(ctx->argv[1]);
    read_probe(ctx->argv[2]);
}

static void
cmd_probe_add(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "http", "https", NULL };
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];
    int protocol;
    uint16_t port;

    check(slb_parse_name("probe name", name));
    check(slb_parse_enum("probe protocol", ctx->argv[3], protocols,
                         &protocol));
    check(slb_parse_port("probe port", ctx->argv[4], false, &port));

    const char *path = shash_find_data(&ctx->options, "--path");
    if (protocol != 0 && !path) {
        ctl_fatal("an %s probe needs --path", protocols[protocol]);
    } else if (protocol == 0 && path) {
        ctl_fatal("a tcp probe takes no --path");
    } else if (path && (path[0] != '/' || strpbrk(path, " \t\r\n"))) {
        ctl_fatal("invalid --path \"%s\": must start with / and contain "
                  "no white space", path);
    }

    int64_t interval, probe_timeout, up, down;
    bool has_interval = option_uint(ctx, "--interval", 1, 3600, &interval);
    bool has_timeout = option_uint(ctx, "--probe-timeout", 1, 3600,
                                   &probe_timeout);
    bool has_up = option_uint(ctx, "--up", 1, 100, &up);
    bool has_down = option_uint(ctx, "--down", 1, 100, &down);
    if (has_timeout && probe_timeout > (has_interval ? interval : 5)) {
        ctl_fatal("probe timeout %"PRId64"s exceeds the interval",
                  probe_timeout);
    }

    if (find_probe(ctx, name, false)) {
        already_exists(ctx, "probe", name);
        return;
    }

    struct slbrec_probe *probe = slbrec_probe_insert(ctx->txn);
    slbrec_probe_set_name(probe, name);
    slbrec_probe_set_protocol(probe, protocols[protocol]);
    slbrec_probe_set_port(probe, port);
    if (path) {
        slbrec_probe_set_path(probe, path);
    }
    if (has_interval) {
        slbrec_probe_set_interval(probe, &interval, 1);
    }
    if (has_timeout) {
        slbrec_probe_set_timeout(probe, &probe_timeout, 1);
    }
    if (has_up) {
        slbrec_probe_set_up_threshold(probe, &up, 1);
    }
    if (has_down) {
        slbrec_probe_set_down_threshold(probe, &down, 1);
    }
    SET_ADD(load_balancer, lb, probes, probe);
}

static void
cmd_probe_del(struct ctl_context *ctx)
{
    const struct slbrec_probe *probe = find_probe(ctx, ctx->argv[1],
                                                  !if_exists(ctx));
    if (!probe) {
        return;
    }

    struct svec users = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, ctx->idl) {
        if (rule->probe == probe) {
            add_user(&users, "load-balancing rule", rule->name);
        }
    }
    refuse_if_used(&users, "probe", probe->name);
    const struct slbrec_load_balancer *lb = owner_of_probe(ctx, probe);
    if (lb) {
        SET_DEL(load_balancer, lb, probes, probe);
    }
    slbrec_probe_delete(probe);
}

static void
cmd_probe_list(struct ctl_context *ctx)
{
    const struct slbrec_load_balancer *only = optional_lb(ctx);
    size_t n;
    const struct slbrec_probe **probes = SORTED_ROWS(probe, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        if (!only || owner_of_probe(ctx, probes[i]) == only) {
            format_probe(&ctx->output, probes[i]);
        }
    }
    free(probes);
}

/* Claims on (VIP, protocol, port).
 *
 * Every load-balancing rule, inbound NAT rule and outbound rule claims some
 * (frontend, protocol, ports): a mux must map every packet to a VIP to at
 * most one of them.  What conflicts is lib/lb.h's (struct slb_claim): the
 * SNAT ports of an outbound rule make way for rules of one port. */
enum claim_kind {               /* In the order that messages prefer. */
    CLAIM_LB_RULE,
    CLAIM_NAT_RULE,
    CLAIM_NAT_POOL,
    CLAIM_OUTBOUND_RULE,
};

static const char *const claim_kinds[] = {
    [CLAIM_LB_RULE] = "load-balancing rule",
    [CLAIM_NAT_RULE] = "inbound NAT rule",
    [CLAIM_NAT_POOL] = "inbound NAT pool",
    [CLAIM_OUTBOUND_RULE] = "outbound rule",
};

struct claim {
    enum claim_kind kind;
    const char *name;           /* The rule's name. */
    const struct slbrec_frontend *frontend;
    struct slb_claim ports;
};

/* Returns the claim of a load-balancing or inbound NAT rule ('kind') named
 * 'name' on frontend 'fe'. */
static struct claim
make_claim(enum claim_kind kind, const char *name,
           const struct slbrec_frontend *fe, const char *protocol,
           int64_t port)
{
    struct claim c = {
        .kind = kind, .name = name, .frontend = fe,
        .ports = slb_rule_claim(protocol, port),
    };
    return c;
}

/* Returns the claim of inbound NAT pool 'np': its range of ports. */
static struct claim
make_nat_pool_claim(const struct slbrec_inbound_nat_pool *np)
{
    struct claim c = make_claim(CLAIM_NAT_POOL, np->name, np->frontend,
                                np->protocol, np->frontend_port_min);
    c.ports.port_max = np->frontend_port_max;
    return c;
}

/* Returns the claim of an outbound rule's SNAT ports on frontend 'fe'. */
static struct claim
make_snat_claim(const char *name, const struct slbrec_frontend *fe,
                const char *protocol)
{
    struct claim c = {
        .kind = CLAIM_OUTBOUND_RULE, .name = name, .frontend = fe,
        .ports = slb_snat_claim(protocol),
    };
    return c;
}

/* Returns the claims on frontend 'fe' of the rules in the replica (load-
 * balancing rules, inbound NAT rules, outbound rules), in an array of '*n'
 * that the caller frees.  Only rules of 'fe' matter: the indexes find
 * them, for a transaction may add thousands of rules, and they see the
 * rules that the transaction added so far. */
static struct claim *
frontend_claims(const struct ctl_context *ctx,
                const struct slbrec_frontend *fe, size_t *n)
{
    struct claim *claims = NULL;
    size_t allocated = 0;
    *n = 0;

    struct slbrec_lb_rule *rule_key = slbrec_lb_rule_index_init_row(
        lb_rules_by_frontend);
    slbrec_lb_rule_index_set_frontend(rule_key, fe);
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH_EQUAL (rule, rule_key, lb_rules_by_frontend) {
        if (*n >= allocated) {
            claims = x2nrealloc(claims, &allocated, sizeof *claims);
        }
        claims[(*n)++] = make_claim(CLAIM_LB_RULE, rule->name, fe,
                                    rule->protocol, rule->frontend_port);
    }
    slbrec_lb_rule_index_destroy_row(rule_key);

    struct slbrec_inbound_nat_rule *nat_key
        = slbrec_inbound_nat_rule_index_init_row(nat_rules_by_frontend);
    slbrec_inbound_nat_rule_index_set_frontend(nat_key, fe);
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH_EQUAL (nat, nat_key,
                                           nat_rules_by_frontend) {
        if (nat_pool_mapping(nat)) {
            continue;           /* Its inbound NAT pool claims its port. */
        }
        if (*n >= allocated) {
            claims = x2nrealloc(claims, &allocated, sizeof *claims);
        }
        claims[(*n)++] = make_claim(CLAIM_NAT_RULE, nat->name, fe,
                                    nat->protocol, nat->frontend_port);
    }
    slbrec_inbound_nat_rule_index_destroy_row(nat_key);

    const struct slbrec_inbound_nat_pool *np;
    SLBREC_INBOUND_NAT_POOL_FOR_EACH (np, ctx->idl) {
        if (np->frontend == fe) {
            if (*n >= allocated) {
                claims = x2nrealloc(claims, &allocated, sizeof *claims);
            }
            claims[(*n)++] = make_nat_pool_claim(np);
        }
    }

    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, ctx->idl) {
        for (size_t i = 0; i < out->n_frontends; i++) {
            if (out->frontends[i] == fe) {
                if (*n >= allocated) {
                    claims = x2nrealloc(claims, &allocated, sizeof *claims);
                }
                claims[(*n)++] = make_snat_claim(out->name, fe,
                                                 out->protocol);
            }
        }
    }
    return claims;
}

/* Returns the ports of frontend 'fe' that the SNAT ranges of an outbound
 * rule for 'protocol' leave out, in an array of '*n' that the caller
 * frees. */
static uint16_t *
snat_blocked_ports(const struct ctl_context *ctx,
                   const struct slbrec_frontend *fe, const char *protocol,
                   size_t *n)
{
    struct slb_claim snat = slb_snat_claim(protocol);
    size_t n_claims;
    struct claim *claims = frontend_claims(ctx, fe, &n_claims);
    uint16_t *ports = NULL;
    size_t allocated = 0;
    *n = 0;
    for (size_t i = 0; i < n_claims; i++) {
        const struct slb_claim *c = &claims[i].ports;
        if (slb_claim_blocks_snat(c, &snat)) {
            /* A port, or an inbound NAT pool's range. */
            for (int port = MAX(c->port_min, snat.port_min);
                 port <= MIN(c->port_max, snat.port_max); port++) {
                if (*n >= allocated) {
                    ports = x2nrealloc(ports, &allocated, sizeof *ports);
                }
                ports[(*n)++] = port;
            }
        }
    }
    free(claims);
    return ports;
}

/* Fails if 'new' conflicts with a claim of a rule already in the
 * database: of all that do, it names the first in a fixed order (load-
 * balancing rules, inbound NAT rules, outbound rules, each kind by name),
 * so that the message does not depend on the order of rows. */
static void
check_claim(const struct ctl_context *ctx, const struct claim *new)
{
    size_t n;
    struct claim *claims = frontend_claims(ctx, new->frontend, &n);
    const struct claim *old = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct claim *c = &claims[i];
        if (slb_claims_conflict(&new->ports, &c->ports)
            && (!old || c->kind < old->kind
                || (c->kind == old->kind && strcmp(c->name, old->name) < 0))) {
            old = c;
        }
    }
    if (!old) {
        free(claims);
        return;
    }

    const struct slb_claim *p = &new->ports;
    if (p->port_min == p->port_max) {
        ctl_fatal("%s %s port %d on VIP %s is already claimed by %s \"%s\"",
                  p->tcp && p->udp ? "tcp/udp" : p->tcp ? "tcp" : "udp",
                  claim_kinds[new->kind], p->port_min, new->frontend->vip,
                  claim_kinds[old->kind], old->name);
    }
    ctl_fatal("%s \"%s\" overlaps %s \"%s\" on VIP %s",
              claim_kinds[new->kind], new->name, claim_kinds[old->kind],
              old->name, new->frontend->vip);
}

/* Makes the SNAT ranges of the outbound rules of 'new''s frontend leave out
 * the port that 'new', a rule that the transaction just added, claims. */
static void
snat_make_way(struct ctl_context *ctx, const struct claim *new)
{
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, ctx->idl) {
        struct slb_claim snat = slb_snat_claim(out->protocol);
        for (size_t i = 0; i < out->n_frontends; i++) {
            if (out->frontends[i] == new->frontend
                && slb_claim_blocks_snat(&new->ports, &snat)) {
                snat_refresh(ctx, out);
                break;
            }
        }
    }
}

/* Asks READ_ROWS for the rules that claim ports of frontend 'fe'. */
static void
read_claims_of(const struct slbrec_frontend *fe)
{
    struct uuid *uuid = CONST_CAST(struct uuid *, &fe->header_.uuid);
    READ(lb_rule, frontend, OVSDB_F_EQ, uuid);
    READ(inbound_nat_rule, frontend, OVSDB_F_EQ, uuid);
    READ(outbound_rule, frontends, OVSDB_F_INCLUDES, &uuid, 1);
}

/* Asks READ_ROWS for the rules that check_claim() looks at for the
 * frontend named 'name'. */
static void
read_claims(const struct ctl_context *ctx, const char *name)
{
    const struct slbrec_frontend *fe = find_frontend(ctx, name, false);
    if (fe) {
        read_claims_of(fe);
    }
}

/* Asks READ_ROWS for what snat_refresh() looks at for each outbound rule
 * read so far: the rules that claim ports of its frontends. */
static void
read_snat_claims(const struct ctl_context *ctx)
{
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, ctx->idl) {
        for (size_t i = 0; i < out->n_frontends; i++) {
            read_claims_of(out->frontends[i]);
        }
    }
}

/* Asks READ_ROWS for what refreshing the inbound NAT pools over 'pool'
 * looks at: the rules that claim ports of their frontends, their mappings
 * among them. */
static void
read_nat_pools_of(const struct ctl_context *ctx,
                  const struct slbrec_backend_pool *pool)
{
    const struct slbrec_inbound_nat_pool *np;
    SLBREC_INBOUND_NAT_POOL_FOR_EACH (np, ctx->idl) {
        /* (Its frontend comes in a later round, the partial read asking
         * for what the rows it holds refer to.) */
        if (np->pool == pool && np->frontend) {
            read_claims_of(np->frontend);
        }
    }
}

/* Asks READ_ROWS for what a new rule of the load balancer named 'lb'
 * checks: its frontend and the rules that claim ports of it, and its pool,
 * with their owners. */
static void
read_rule(const struct ctl_context *ctx, const char *lb,
          const char *frontend, const char *pool)
{
    read_load_balancer(lb);
    read_frontend(frontend);
    read_backend_pool(pool);
    read_claims(ctx, frontend);
    read_snat_claims(ctx);
    read_owner_of_frontend(ctx, lb, frontend);
    read_owner_of_backend_pool(ctx, lb, pool);
}

static void
pre_lb_rule_add(struct ctl_context *ctx)
{
    read_rule(ctx, ctx->argv[1], ctx->argv[3], ctx->argv[7]);
    read_lb_rule(ctx->argv[2]);
    const char *probe = shash_find_data(&ctx->options, "--probe");
    if (probe) {
        read_probe(probe);
        read_owner_of_probe(ctx, ctx->argv[1], probe);
    }
}

/* Fails if 'fe' is an internal frontend and 'pool' is of another virtual
 * network than 'fe': its VIP means nothing there. */
static void
check_internal_pool(const struct slbrec_frontend *fe,
                    const struct slbrec_backend_pool *pool)
{
    if (fe->vnet && pool->vnet != fe->vnet) {
        ctl_fatal("internal frontend \"%s\" of virtual network \"%s\" "
                  "cannot reach pool \"%s\" of virtual network \"%s\"",
                  fe->name, fe->vnet->name, pool->name,
                  pool->vnet ? pool->vnet->name : "");
    }
}

static void
cmd_lb_rule_add(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "udp", "all", NULL };
    static const char *const distributions[] = {
        "5-tuple", "3-tuple", "2-tuple", NULL
    };
    static const char *const no_healthy_choices[] = {
        "all-probed-down", "all-probed-up", NULL
    };
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];
    int protocol;
    uint16_t port, backend_port;

    check(slb_parse_name("rule name", name));
    const struct slbrec_frontend *fe = find_frontend(ctx, ctx->argv[3], true);
    check_frontend_of(ctx, lb, fe, "frontend");
    check(slb_parse_enum("protocol", ctx->argv[4], protocols, &protocol));
    check(slb_parse_port("frontend port", ctx->argv[5], true, &port));
    check(slb_parse_port("backend port", ctx->argv[6], true,
                         &backend_port));
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[7], true);
    check_backend_pool_of(ctx, lb, pool, "backend pool");
    check_internal_pool(fe, pool);
    struct in6_addr vip = addr_of(fe->vip);
    check_pool_family(pool, &vip, "VIP");

    const char *problem = slb_rule_ports_problem(protocols[protocol], port,
                                                 backend_port);
    if (problem) {
        ctl_fatal("%s", problem);
    }

    const char *probe_name = shash_find_data(&ctx->options, "--probe");
    const struct slbrec_probe *probe = NULL;
    if (probe_name) {
        probe = find_probe(ctx, probe_name, true);
        check_probe_of(ctx, lb, probe, "probe");
    }
    const char *dist_s = shash_find_data(&ctx->options, "--distribution");
    int distribution = 0;
    if (dist_s) {
        check(slb_parse_enum("distribution", dist_s, distributions,
                             &distribution));
    }
    int64_t idle_timeout;
    bool has_idle = option_uint(ctx, "--idle-timeout", SLB_IDLE_TIMEOUT_MIN,
                                SLB_IDLE_TIMEOUT_MAX, &idle_timeout);
    bool floating_ip = shash_find(&ctx->options, "--floating-ip") != NULL;
    bool tcp_reset = shash_find(&ctx->options, "--tcp-reset") != NULL;
    if (tcp_reset && !strcmp(protocols[protocol], "udp")) {
        ctl_fatal("--tcp-reset is for rules of tcp or all (HA ports), "
                  "not udp");
    }
    const char *no_healthy_s = shash_find_data(&ctx->options,
                                               "--no-healthy-backends");
    int no_healthy = 0;
    if (no_healthy_s) {
        check(slb_parse_enum("no-healthy-backends", no_healthy_s,
                             no_healthy_choices, &no_healthy));
    }

    if (find_lb_rule(ctx, name, false)) {
        already_exists(ctx, "load-balancing rule", name);
        return;
    }
    struct claim claim = make_claim(CLAIM_LB_RULE, name, fe,
                                    protocols[protocol], port);
    check_claim(ctx, &claim);

    struct slbrec_lb_rule *rule = slbrec_lb_rule_insert(ctx->txn);
    slbrec_lb_rule_set_name(rule, name);
    slbrec_lb_rule_set_frontend(rule, fe);
    slbrec_lb_rule_set_protocol(rule, protocols[protocol]);
    slbrec_lb_rule_set_frontend_port(rule, port);
    slbrec_lb_rule_set_backend_port(rule, backend_port);
    slbrec_lb_rule_set_pool(rule, pool);
    if (probe) {
        slbrec_lb_rule_set_probe(rule, probe);
    }
    slbrec_lb_rule_set_distribution(rule, distributions[distribution]);
    slbrec_lb_rule_set_floating_ip(rule, floating_ip);
    if (has_idle) {
        slbrec_lb_rule_set_idle_timeout(rule, &idle_timeout, 1);
    }
    slbrec_lb_rule_set_tcp_reset(rule, tcp_reset);
    if (no_healthy_s) {
        slbrec_lb_rule_set_no_healthy_backends(rule,
                                               no_healthy_choices[no_healthy]);
    }
    SET_ADD(load_balancer, lb, rules, rule);
    snat_make_way(ctx, &claim);
}

static void
cmd_lb_rule_del(struct ctl_context *ctx)
{
    const struct slbrec_lb_rule *rule = find_lb_rule(ctx, ctx->argv[1],
                                                     !if_exists(ctx));
    if (!rule) {
        return;
    }
    const struct slbrec_load_balancer *lb;
    SLBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        SET_DEL(load_balancer, lb, rules, rule);
    }
    slbrec_lb_rule_delete(rule);
}

/* Defines a "-list [LB]" command for rules of TABLE, which the load
 * balancer holds in COLUMN. */
#define DEFINE_RULE_LIST(TABLE, COLUMN)                                 \
    static void                                                         \
    cmd_##TABLE##_list(struct ctl_context *ctx)                         \
    {                                                                   \
        const struct slbrec_load_balancer *only = optional_lb(ctx);     \
        size_t n;                                                       \
        const struct slbrec_load_balancer **lbs                         \
            = SORTED_ROWS(load_balancer, ctx->idl, &n);                 \
        for (size_t i = 0; i < n; i++) {                                \
            if (only && lbs[i] != only) {                               \
                continue;                                               \
            }                                                           \
            const struct slbrec_##TABLE **rules                         \
                = SORTED_REFS(TABLE, lbs[i]->COLUMN,                    \
                              lbs[i]->n_##COLUMN);                      \
            for (size_t j = 0; j < lbs[i]->n_##COLUMN; j++) {           \
                format_##TABLE(&ctx->output, rules[j]);                 \
            }                                                           \
            free(rules);                                                \
        }                                                               \
        free(lbs);                                                      \
    }
DEFINE_RULE_LIST(lb_rule, rules)
DEFINE_RULE_LIST(inbound_nat_rule, inbound_nat_rules)
DEFINE_RULE_LIST(inbound_nat_pool, inbound_nat_pools)
DEFINE_RULE_LIST(outbound_rule, outbound_rules)

/* Inbound NAT rules. */

static void
pre_inbound_nat_add(struct ctl_context *ctx)
{
    read_rule(ctx, ctx->argv[1], ctx->argv[3], ctx->argv[6]);
    read_inbound_nat_rule(ctx->argv[2]);
}

static void
cmd_inbound_nat_add(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "udp", NULL };
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];
    int protocol;
    uint16_t port, backend_port;

    check(slb_parse_name("rule name", name));
    const struct slbrec_frontend *fe = find_frontend(ctx, ctx->argv[3], true);
    check_frontend_of(ctx, lb, fe, "frontend");
    check(slb_parse_enum("protocol", ctx->argv[4], protocols, &protocol));
    check(slb_parse_port("frontend port", ctx->argv[5], false, &port));
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[6], true);
    check_backend_pool_of(ctx, lb, pool, "backend pool");
    check_internal_pool(fe, pool);
    const struct slbrec_vm *backend = get_backend(pool, ctx->argv[7]);
    struct in6_addr vip = addr_of(fe->vip);
    check_pool_family(pool, &vip, "VIP");
    check(slb_parse_port("backend port", ctx->argv[8], false,
                         &backend_port));
    int64_t idle_timeout;
    bool has_idle = option_uint(ctx, "--idle-timeout", SLB_IDLE_TIMEOUT_MIN,
                                SLB_IDLE_TIMEOUT_MAX, &idle_timeout);

    if (find_inbound_nat_rule(ctx, name, false)) {
        already_exists(ctx, "inbound NAT rule", name);
        return;
    }
    struct claim claim = make_claim(CLAIM_NAT_RULE, name, fe,
                                    protocols[protocol], port);
    check_claim(ctx, &claim);

    struct slbrec_inbound_nat_rule *nat
        = slbrec_inbound_nat_rule_insert(ctx->txn);
    slbrec_inbound_nat_rule_set_name(nat, name);
    slbrec_inbound_nat_rule_set_frontend(nat, fe);
    slbrec_inbound_nat_rule_set_protocol(nat, protocols[protocol]);
    slbrec_inbound_nat_rule_set_frontend_port(nat, port);
    slbrec_inbound_nat_rule_set_vm(nat, backend);
    slbrec_inbound_nat_rule_set_backend_port(nat, backend_port);
    slbrec_inbound_nat_rule_set_floating_ip(
        nat, shash_find(&ctx->options, "--floating-ip") != NULL);
    if (has_idle) {
        slbrec_inbound_nat_rule_set_idle_timeout(nat, &idle_timeout, 1);
    }
    SET_ADD(load_balancer, lb, inbound_nat_rules, nat);
    snat_make_way(ctx, &claim);
}

static void
cmd_inbound_nat_del(struct ctl_context *ctx)
{
    const struct slbrec_inbound_nat_rule *nat
        = find_inbound_nat_rule(ctx, ctx->argv[1], !if_exists(ctx));
    if (!nat) {
        return;
    }
    const char *np = nat_pool_mapping(nat);
    if (np) {
        ctl_fatal("inbound NAT rule \"%s\" is a mapping of inbound NAT pool "
                  "\"%s\", which keeps one for each backend of its pool",
                  nat->name, np);
    }
    const struct slbrec_load_balancer *lb;
    SLBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        SET_DEL(load_balancer, lb, inbound_nat_rules, nat);
    }
    slbrec_inbound_nat_rule_delete(nat);
}

/* Inbound NAT pools: a range of frontend ports over a backend pool, one
 * port for each backend, each an inbound NAT rule of its own (a mapping)
 * that the pool keeps as backends come and go. */

/* Brings the mappings of inbound NAT pool 'np' in line with its backend
 * pool: a backend that has a port keeps it, a new one gets the lowest free
 * port of the range, and the mapping of a backend that left goes. */
static void
nat_pool_refresh(struct ctl_context *ctx,
                 const struct slbrec_inbound_nat_pool *np)
{
    const struct slbrec_backend_pool *pool = np->pool;
    size_t n = pool->n_members;
    int64_t first = np->frontend_port_min;
    size_t n_ports = np->frontend_port_max - first + 1;
    if (n > n_ports) {
        ctl_fatal("inbound NAT pool \"%s\": backend pool \"%s\" would have "
                  "%"PRIuSIZE" backends, but ports %"PRId64"-%"PRId64" are "
                  "only %"PRIuSIZE, np->name, pool->name, n, first,
                  np->frontend_port_max, n_ports);
    }

    /* The backends in CA order, so that new ones take ports in a fixed
     * order, each with its mapping if it has one. */
    struct slbrec_vm **backends = sorted_backends(pool);
    struct slbrec_inbound_nat_rule **maps = xcalloc(n + 1, sizeof *maps);
    unsigned long *used = bitmap_allocate(n_ports);
    for (size_t m = 0; m < np->n_mappings; m++) {
        struct slbrec_inbound_nat_rule *nat = np->mappings[m];
        int64_t offset = nat->frontend_port - first;
        for (size_t i = 0; i < n; i++) {
            if (nat->vm == backends[i] && !maps[i]
                && offset >= 0 && offset < n_ports
                && !bitmap_is_set(used, offset)) {
                maps[i] = nat;
                bitmap_set1(used, offset);
                break;
            }
        }
    }

    for (size_t i = 0; i < n; i++) {
        if (maps[i]) {
            continue;
        }
        size_t offset = bitmap_scan(used, 0, 0, n_ports);
        bitmap_set1(used, offset);
        int64_t port = first + offset;
        char *name = xasprintf("%s:%"PRId64, np->name, port);
        if (find_inbound_nat_rule(ctx, name, false)) {
            ctl_fatal("inbound NAT pool \"%s\" cannot name the mapping of "
                      "port %"PRId64" \"%s\": an inbound NAT rule has that "
                      "name", np->name, port, name);
        }
        struct slbrec_inbound_nat_rule *nat
            = slbrec_inbound_nat_rule_insert(ctx->txn);
        slbrec_inbound_nat_rule_set_name(nat, name);
        slbrec_inbound_nat_rule_set_frontend(nat, np->frontend);
        slbrec_inbound_nat_rule_set_protocol(nat, np->protocol);
        slbrec_inbound_nat_rule_set_frontend_port(nat, port);
        slbrec_inbound_nat_rule_set_vm(nat, backends[i]);
        slbrec_inbound_nat_rule_set_backend_port(nat, np->backend_port);
        slbrec_inbound_nat_rule_set_floating_ip(nat, np->floating_ip);
        slbrec_inbound_nat_rule_set_idle_timeout(nat, np->idle_timeout,
                                                 np->n_idle_timeout);
        const struct smap ids = SMAP_CONST1(&ids, "slb-nat-pool", np->name);
        slbrec_inbound_nat_rule_set_external_ids(nat, &ids);
        maps[i] = nat;
        free(name);
    }

    /* The mappings of backends that left. */
    for (size_t m = 0; m < np->n_mappings; m++) {
        bool kept = false;
        for (size_t i = 0; i < n && !kept; i++) {
            kept = maps[i] == np->mappings[m];
        }
        if (!kept) {
            slbrec_inbound_nat_rule_delete(np->mappings[m]);
        }
    }
    slbrec_inbound_nat_pool_set_mappings(np, maps, n);

    free(used);
    free(maps);
    free(backends);
}

/* Deletes inbound NAT pool 'np' and its mappings. */
static void
delete_nat_pool(const struct slbrec_inbound_nat_pool *np)
{
    for (size_t i = 0; i < np->n_mappings; i++) {
        slbrec_inbound_nat_rule_delete(np->mappings[i]);
    }
    slbrec_inbound_nat_pool_delete(np);
}

static void
pre_inbound_nat_pool_add(struct ctl_context *ctx)
{
    read_rule(ctx, ctx->argv[1], ctx->argv[3], ctx->argv[7]);
    read_inbound_nat_rule(ctx->argv[2]);
}

static void
cmd_inbound_nat_pool_add(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "udp", NULL };
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];
    int protocol;
    uint16_t first, last, backend_port;

    check(slb_parse_name("rule name", name));
    const struct slbrec_frontend *fe = find_frontend(ctx, ctx->argv[3], true);
    check_frontend_of(ctx, lb, fe, "frontend");
    check(slb_parse_enum("protocol", ctx->argv[4], protocols, &protocol));
    check(slb_parse_port("first frontend port", ctx->argv[5], false,
                         &first));
    check(slb_parse_port("last frontend port", ctx->argv[6], false, &last));
    if (last < first) {
        ctl_fatal("frontend ports %d-%d: the last comes before the first",
                  first, last);
    }
    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[7], true);
    check_backend_pool_of(ctx, lb, pool, "backend pool");
    check_internal_pool(fe, pool);
    check(slb_parse_port("backend port", ctx->argv[8], false,
                         &backend_port));
    int64_t idle_timeout;
    bool has_idle = option_uint(ctx, "--idle-timeout", SLB_IDLE_TIMEOUT_MIN,
                                SLB_IDLE_TIMEOUT_MAX, &idle_timeout);

    if (find_inbound_nat_pool(ctx, name, false)) {
        already_exists(ctx, "inbound NAT pool", name);
        return;
    }
    struct claim claim = make_claim(CLAIM_NAT_POOL, name, fe,
                                    protocols[protocol], first);
    claim.ports.port_max = last;
    check_claim(ctx, &claim);

    struct slbrec_inbound_nat_pool *np
        = slbrec_inbound_nat_pool_insert(ctx->txn);
    slbrec_inbound_nat_pool_set_name(np, name);
    slbrec_inbound_nat_pool_set_frontend(np, fe);
    slbrec_inbound_nat_pool_set_protocol(np, protocols[protocol]);
    slbrec_inbound_nat_pool_set_frontend_port_min(np, first);
    slbrec_inbound_nat_pool_set_frontend_port_max(np, last);
    slbrec_inbound_nat_pool_set_pool(np, pool);
    slbrec_inbound_nat_pool_set_backend_port(np, backend_port);
    slbrec_inbound_nat_pool_set_floating_ip(
        np, shash_find(&ctx->options, "--floating-ip") != NULL);
    if (has_idle) {
        slbrec_inbound_nat_pool_set_idle_timeout(np, &idle_timeout, 1);
    }
    SET_ADD(load_balancer, lb, inbound_nat_pools, np);
    nat_pool_refresh(ctx, np);
    snat_make_way(ctx, &claim);
}

static void
cmd_inbound_nat_pool_del(struct ctl_context *ctx)
{
    const struct slbrec_inbound_nat_pool *np
        = find_inbound_nat_pool(ctx, ctx->argv[1], !if_exists(ctx));
    if (!np) {
        return;
    }
    const struct slbrec_load_balancer *lb;
    SLBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        SET_DEL(load_balancer, lb, inbound_nat_pools, np);
    }
    delete_nat_pool(np);
}

/* Outbound rules. */

static void
cmd_outbound_rule_add(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "udp", "all", NULL };
    const struct slbrec_load_balancer *lb
        = find_load_balancer(ctx, ctx->argv[1], true);
    const char *name = ctx->argv[2];

    check(slb_parse_name("rule name", name));

    /* The frontends, comma-separated, each at most once. */
    struct svec names = SVEC_EMPTY_INITIALIZER;
    char *list = xstrdup(ctx->argv[3]);
    char *save_ptr = NULL;
    for (char *token = strtok_r(list, ",", &save_ptr); token;
         token = strtok_r(NULL, ",", &save_ptr)) {
        svec_add(&names, token);
    }
    free(list);
    if (!names.n) {
        ctl_fatal("an outbound rule needs at least one frontend");
    }
    const struct slbrec_frontend **fes = xmalloc(names.n * sizeof *fes);
    for (size_t i = 0; i < names.n; i++) {
        fes[i] = find_frontend(ctx, names.names[i], true);
        check_frontend_of(ctx, lb, fes[i], "frontend");
        if (fes[i]->vnet) {
            ctl_fatal("frontend \"%s\" is internal: it has no SNAT ports",
                      fes[i]->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (fes[j] == fes[i]) {
                ctl_fatal("frontend \"%s\" is listed twice", fes[i]->name);
            }
        }
    }
    size_t n_fes = names.n;
    svec_destroy(&names);

    const struct slbrec_backend_pool *pool
        = find_backend_pool(ctx, ctx->argv[4], true);
    check_backend_pool_of(ctx, lb, pool, "backend pool");
    for (size_t i = 0; i < n_fes; i++) {
        struct in6_addr vip = addr_of(fes[i]->vip);
        check_pool_family(pool, &vip, "VIP");
    }

    int protocol = 2;
    const char *proto_s = shash_find_data(&ctx->options, "--protocol");
    if (proto_s) {
        check(slb_parse_enum("protocol", proto_s, protocols, &protocol));
    }
    int64_t ports = 0, idle_timeout;
    const char *ports_s = shash_find_data(&ctx->options,
                                          "--ports-per-instance");
    if (ports_s && strcmp(ports_s, "auto")) {
        option_uint(ctx, "--ports-per-instance", SNAT_PORT_ALIGN,
                    (int64_t) SNAT_PORTS * n_fes, &ports);
        if (ports % SNAT_PORT_ALIGN) {
            ctl_fatal("invalid --ports-per-instance \"%s\": must be a "
                      "multiple of %d", ports_s, SNAT_PORT_ALIGN);
        }
    }
    bool has_idle = option_uint(ctx, "--idle-timeout", SLB_IDLE_TIMEOUT_MIN,
                                SLB_OUTBOUND_IDLE_TIMEOUT_MAX, &idle_timeout);

    if (find_outbound_rule(ctx, name, false)) {
        already_exists(ctx, "outbound rule", name);
        free(fes);
        return;
    }
    for (size_t i = 0; i < n_fes; i++) {
        struct claim claim = make_snat_claim(name, fes[i],
                                             protocols[protocol]);
        check_claim(ctx, &claim);
    }

    struct slbrec_outbound_rule *rule = slbrec_outbound_rule_insert(ctx->txn);
    slbrec_outbound_rule_set_name(rule, name);
    slbrec_outbound_rule_set_frontends(
        rule, (struct slbrec_frontend **) fes, n_fes);
    slbrec_outbound_rule_set_pool(rule, pool);
    slbrec_outbound_rule_set_protocol(rule, protocols[protocol]);
    if (ports) {
        slbrec_outbound_rule_set_ports_per_instance(rule, &ports, 1);
    }
    if (has_idle) {
        slbrec_outbound_rule_set_idle_timeout(rule, &idle_timeout, 1);
    }
    SET_ADD(load_balancer, lb, outbound_rules, rule);
    free(fes);

    snat_refresh(ctx, rule);
}

static void
delete_outbound_rule(const struct slbrec_load_balancer *lb,
                     const struct slbrec_outbound_rule *rule)
{
    for (size_t i = 0; i < rule->n_allocations; i++) {
        slbrec_snat_allocation_delete(rule->allocations[i]);
    }
    if (lb) {
        SET_DEL(load_balancer, lb, outbound_rules, rule);
    }
    slbrec_outbound_rule_delete(rule);
}

static void
cmd_outbound_rule_del(struct ctl_context *ctx)
{
    const struct slbrec_outbound_rule *rule
        = find_outbound_rule(ctx, ctx->argv[1], !if_exists(ctx));
    if (!rule) {
        return;
    }
    const struct slbrec_load_balancer *lb, *owner = NULL;
    SLBREC_LOAD_BALANCER_FOR_EACH (lb, ctx->idl) {
        for (size_t i = 0; i < lb->n_outbound_rules; i++) {
            if (lb->outbound_rules[i] == rule) {
                owner = lb;
            }
        }
    }
    delete_outbound_rule(owner, rule);
}

static void
cmd_snat_list(struct ctl_context *ctx)
{
    size_t n;
    const struct slbrec_outbound_rule **rules
        = SORTED_ROWS(outbound_rule, ctx->idl, &n);
    const struct slbrec_outbound_rule *only
        = ctx->argc > 1 ? find_outbound_rule(ctx, ctx->argv[1], true) : NULL;

    for (size_t i = 0; i < n; i++) {
        if (!only || rules[i] == only) {
            char *prefix = only ? xstrdup("") : xasprintf("%s ",
                                                          rules[i]->name);
            format_allocations(&ctx->output, rules[i], prefix);
            free(prefix);
        }
    }
    free(rules);
}

/* ACLs and meters. */

static const char *const directions[] = { "from-vm", "to-vm", NULL };

/* Parses the value of prefix option 'name', if given, and stores it in
 * canonical form in '*out' (malloc'd) or NULL. */
static void
option_prefix(const struct ctl_context *ctx, const char *name, char **out)
{
    const char *s = shash_find_data(&ctx->options, name);
    *out = NULL;
    if (s) {
        ovs_be32 ip;
        unsigned int plen;
        check(slb_parse_prefix(name, s, &ip, &plen));
        *out = xasprintf(IP_FMT"/%u", IP_ARGS(ip), plen);
    }
}

static bool
option_port_range(const struct ctl_context *ctx, const char *name,
                  int64_t *min, int64_t *max)
{
    const char *s = shash_find_data(&ctx->options, name);
    if (!s) {
        return false;
    }
    uint16_t lo, hi;
    check(slb_parse_port_range(name, s, &lo, &hi));
    *min = lo;
    *max = hi;
    return true;
}

static void
cmd_acl_add(struct ctl_context *ctx)
{
    static const char *const actions[] = { "allow", "deny", NULL };
    static const char *const protocols[] = { "tcp", "udp", "icmp", NULL };
    const char *name = ctx->argv[1];
    const char *iface_id = ctx->argv[2];
    int direction, action, protocol = -1;
    unsigned long long int priority;

    check(slb_parse_name("ACL name", name));
    if (!iface_id[0]) {
        ctl_fatal("invalid iface-id: must not be empty");
    }
    check(slb_parse_enum("direction", ctx->argv[3], directions, &direction));
    check(slb_parse_uint("priority", ctx->argv[4], 0, 32767, &priority));
    check(slb_parse_enum("action", ctx->argv[5], actions, &action));

    const char *proto_s = shash_find_data(&ctx->options, "--protocol");
    if (proto_s) {
        check(slb_parse_enum("protocol", proto_s, protocols, &protocol));
    }
    char *src, *dst;
    int64_t sp_min, sp_max, dp_min, dp_max;
    bool has_sp = option_port_range(ctx, "--src-port", &sp_min, &sp_max);
    bool has_dp = option_port_range(ctx, "--dst-port", &dp_min, &dp_max);
    if ((has_sp || has_dp) && (protocol < 0 || protocol == 2)) {
        ctl_fatal("ports in an ACL need --protocol=tcp or udp");
    }
    option_prefix(ctx, "--src", &src);
    option_prefix(ctx, "--dst", &dst);

    if (find_acl(ctx, name, false)) {
        free(src);
        free(dst);
        already_exists(ctx, "ACL", name);
        return;
    }

    struct slbrec_acl *acl = slbrec_acl_insert(ctx->txn);
    slbrec_acl_set_name(acl, name);
    slbrec_acl_set_iface_id(acl, iface_id);
    slbrec_acl_set_direction(acl, directions[direction]);
    slbrec_acl_set_priority(acl, priority);
    slbrec_acl_set_action(acl, actions[action]);
    if (protocol >= 0) {
        slbrec_acl_set_protocol(acl, protocols[protocol]);
    }
    slbrec_acl_set_src_prefix(acl, src);
    slbrec_acl_set_dst_prefix(acl, dst);
    if (has_sp) {
        slbrec_acl_set_src_port_min(acl, &sp_min, 1);
        slbrec_acl_set_src_port_max(acl, &sp_max, 1);
    }
    if (has_dp) {
        slbrec_acl_set_dst_port_min(acl, &dp_min, 1);
        slbrec_acl_set_dst_port_max(acl, &dp_max, 1);
    }
    free(src);
    free(dst);
}

static void
cmd_acl_del(struct ctl_context *ctx)
{
    const struct slbrec_acl *acl = find_acl(ctx, ctx->argv[1],
                                            !if_exists(ctx));
    if (acl) {
        slbrec_acl_delete(acl);
    }
}

static int
compare_acls(const void *a_, const void *b_)
{
    const struct slbrec_acl *const *a = a_;
    const struct slbrec_acl *const *b = b_;
    int cmp = strcmp((*a)->iface_id, (*b)->iface_id);
    if (!cmp) {
        cmp = strcmp((*a)->direction, (*b)->direction);
    }
    if (!cmp) {
        cmp = ((*a)->priority > (*b)->priority ? -1
               : (*a)->priority < (*b)->priority);
    }
    return cmp ? cmp : strcmp((*a)->name, (*b)->name);
}

static void
cmd_acl_list(struct ctl_context *ctx)
{
    /* In evaluation order: by VM, direction, and descending priority. */
    size_t n;
    const struct slbrec_acl **acls = SORTED_ROWS(acl, ctx->idl, &n);
    qsort(acls, n, sizeof *acls, compare_acls);
    for (size_t i = 0; i < n; i++) {
        if (ctx->argc < 2 || !strcmp(acls[i]->iface_id, ctx->argv[1])) {
            format_acl(&ctx->output, acls[i]);
        }
    }
    free(acls);
}

static void
cmd_meter_add(struct ctl_context *ctx)
{
    const char *name = ctx->argv[1];
    const char *iface_id = ctx->argv[2];
    int direction;
    unsigned long long int rate;
    int64_t burst;

    check(slb_parse_name("meter name", name));
    if (!iface_id[0]) {
        ctl_fatal("invalid iface-id: must not be empty");
    }
    check(slb_parse_enum("direction", ctx->argv[3], directions, &direction));
    check(slb_parse_uint("rate", ctx->argv[4], 1, 100000000, &rate));
    bool has_burst = option_uint(ctx, "--burst", 1, 100000000, &burst);

    if (find_meter(ctx, name, false)) {
        already_exists(ctx, "meter", name);
        return;
    }
    const struct slbrec_meter *other;
    SLBREC_METER_FOR_EACH (other, ctx->idl) {
        if (!strcmp(other->iface_id, iface_id)
            && !strcmp(other->direction, directions[direction])) {
            ctl_fatal("%s %s already has meter \"%s\"", iface_id,
                      directions[direction], other->name);
        }
    }

    struct slbrec_meter *meter = slbrec_meter_insert(ctx->txn);
    slbrec_meter_set_name(meter, name);
    slbrec_meter_set_iface_id(meter, iface_id);
    slbrec_meter_set_direction(meter, directions[direction]);
    slbrec_meter_set_rate(meter, rate);
    if (has_burst) {
        slbrec_meter_set_burst(meter, &burst, 1);
    }
}

static void
cmd_meter_del(struct ctl_context *ctx)
{
    const struct slbrec_meter *meter = find_meter(ctx, ctx->argv[1],
                                                  !if_exists(ctx));
    if (meter) {
        slbrec_meter_delete(meter);
    }
}

static void
cmd_meter_list(struct ctl_context *ctx)
{
    size_t n;
    const struct slbrec_meter **meters = SORTED_ROWS(meter, ctx->idl, &n);
    for (size_t i = 0; i < n; i++) {
        if (ctx->argc < 2 || !strcmp(meters[i]->iface_id, ctx->argv[1])) {
            format_meter(&ctx->output, meters[i]);
        }
    }
    free(meters);
}

/* Backend health. */

/* Lists the state of every backend of every pool, as the muxes decide
 * it: a line per backend and probe. */
static void
cmd_health_list(struct ctl_context *ctx)
{
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, ctx->idl) {
        for (size_t i = 0; i < pool->n_members; i++) {
            const struct slbrec_vm *vm = pool->members[i];
            char *prefix = xasprintf("%s %s on %s: ", pool->name,
                                     backend_ca(vm),
                                     vm->host ? vm->host->name : "-");
            add_backend_states(ctx, &lines, prefix, pool, vm,
                               find_binding(vm));
            free(prefix);
        }
    }
    svec_sort(&lines);
    for (size_t i = 0; i < lines.n; i++) {
        ds_put_cstr(&ctx->output, lines.names[i]);
    }
    svec_destroy(&lines);
}

/* Registration. */

static const struct ctl_table_class tables[SLBREC_N_TABLES] = {
    [SLBREC_TABLE_VNET].row_ids[0] = { &slbrec_vnet_col_name, NULL, NULL },
    [SLBREC_TABLE_HOST].row_ids[0] = { &slbrec_host_col_name, NULL, NULL },
    [SLBREC_TABLE_MUX].row_ids[0] = { &slbrec_mux_col_name, NULL, NULL },
    [SLBREC_TABLE_LOAD_BALANCER].row_ids[0]
        = { &slbrec_load_balancer_col_name, NULL, NULL },
    [SLBREC_TABLE_FRONTEND].row_ids[0]
        = { &slbrec_frontend_col_name, NULL, NULL },
    [SLBREC_TABLE_BACKEND_POOL].row_ids[0]
        = { &slbrec_backend_pool_col_name, NULL, NULL },
    [SLBREC_TABLE_PROBE].row_ids[0] = { &slbrec_probe_col_name, NULL, NULL },
    [SLBREC_TABLE_LB_RULE].row_ids[0]
        = { &slbrec_lb_rule_col_name, NULL, NULL },
    [SLBREC_TABLE_INBOUND_NAT_RULE].row_ids[0]
        = { &slbrec_inbound_nat_rule_col_name, NULL, NULL },
    [SLBREC_TABLE_INBOUND_NAT_POOL].row_ids[0]
        = { &slbrec_inbound_nat_pool_col_name, NULL, NULL },
    [SLBREC_TABLE_OUTBOUND_RULE].row_ids[0]
        = { &slbrec_outbound_rule_col_name, NULL, NULL },
    [SLBREC_TABLE_ACL].row_ids[0] = { &slbrec_acl_col_name, NULL, NULL },
    [SLBREC_TABLE_METER].row_ids[0] = { &slbrec_meter_col_name, NULL, NULL },
    [SLBREC_TABLE_HOST_STATUS].row_ids[0]
        = { &slbrec_host_status_col_name, NULL, NULL },
    [SLBREC_TABLE_MUX_STATUS].row_ids[0]
        = { &slbrec_mux_status_col_name, NULL, NULL },
    [SLBREC_TABLE_CONNECTION].row_ids[0]
        = { &slbrec_connection_col_target, NULL, NULL },
    [SLBREC_TABLE_RBAC_ROLE].row_ids[0]
        = { &slbrec_rbac_role_col_name, NULL, NULL },
};

/* With a cluster's remotes, while 'idl' has no connection, tries them all
 * again every 250 ms, where the IDL would wait longer and longer between
 * attempts (up to 8 s): the cluster elects a new leader within seconds of
 * losing one, and slb-ctl should not linger after that.  Giving the IDL
 * another spelling of the same remotes starts it over. */
static void
keep_trying(struct ovsdb_idl *idl)
{
    static long long int next_try;
    static bool rotated;

    if (!strchr(db, ',') || ovsdb_idl_is_connected(idl)) {
        next_try = 0;
        return;
    }
    long long int now = time_msec();
    if (!next_try) {
        next_try = now + 250;
    } else if (now >= next_try) {
        /* "B,C,A" for "A,B,C", and back. */
        const char *comma = strchr(db, ',');
        char *other = xasprintf("%s,%.*s", comma + 1, (int) (comma - db), db);
        rotated = !rotated;
        ovsdb_idl_set_remote(idl, rotated ? other : db, true);
        free(other);
        next_try = now + 250;
    }
    poll_timer_wait_until(next_try);
}

/* Exits with 'status', after closing the database connection as it should
 * be closed (an SSL connection that just drops makes the server warn). */
static void
slb_ctl_exit(int status)
{
    if (the_idl_txn) {
        ovsdb_idl_txn_abort(the_idl_txn);
        ovsdb_idl_txn_destroy(the_idl_txn);
    }
    ovsdb_idl_destroy(the_idl);
    exit(status);
}

/* Tracing a flow. */

/* Parses 's', "IP:PORT", the 'what' of a flow, into '*ip' and '*port'. */
static void
parse_endpoint(const char *what, const char *s, ovs_be32 *ip,
               uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        ctl_fatal("invalid %s \"%s\": expected IP:PORT", what, s);
    }
    char *address = xmemdup0(s, colon - s);
    char *error = slb_parse_ipv4(what, address, ip);
    free(address);
    check(error);
    check(slb_parse_port(what, colon + 1, false, port));
}

/* Returns the first packet of the flow from 'client':'client_port' to
 * 'vip':'port' over 'proto', as a router sends it to a mux whose MAC is
 * 'mux_mac'. */
static struct dp_packet *
first_packet(uint8_t proto, ovs_be32 client, uint16_t client_port,
             ovs_be32 vip, uint16_t port, struct eth_addr mux_mac)
{
    struct flow flow;
    memset(&flow, 0, sizeof flow);
    flow.dl_src = (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 00, fe);
    flow.dl_dst = mux_mac;
    flow.dl_type = htons(ETH_TYPE_IP);
    flow.nw_src = client;
    flow.nw_dst = vip;
    flow.nw_proto = proto;
    flow.nw_ttl = 64;
    flow.tp_src = htons(client_port);
    flow.tp_dst = htons(port);
    if (proto == IPPROTO_TCP) {
        flow.tcp_flags = htons(TCP_SYN);
    }
    struct dp_packet *packet = dp_packet_new(0);
    flow_compose(packet, &flow, NULL, 0);
    return packet;
}

/* Appends to 'out' what mux 'row' would do with 'packet', computed from
 * the database by the mux's own code, as a mux that has just started
 * would (no flow seen before), and stores in '*sent' what it would send,
 * or NULL. */
static void
trace_mux(struct ctl_context *ctx, const struct slbrec_mux *row,
          const struct dp_packet *packet, struct eth_addr mux_mac,
          struct ds *out, struct dp_packet **sent)
{
    struct mux_underlay underlay = { .mac = mux_mac, .mtu = 1500 };
    const char *nexthop = smap_get(&row->options, "nexthop-mac");
    if (nexthop) {
        eth_addr_from_string(nexthop, &underlay.nexthop);
    }

    struct mux_ids ids;
    mux_ids_init(&ids, 5000);
    struct mux_rule_cache *cache = mux_rule_cache_create();
    struct ds problems = DS_EMPTY_INITIALIZER;
    struct mux_config *cfg = mux_config_from_idl(ctx->idl, row, &underlay,
                                                 &ids, NULL, cache,
                                                 &problems);
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 1024, 1024, 5000);
    mux_pmd_prepare(&pmd, cfg);
    struct mux_pmd *pmds[] = { &pmd };

    struct ds trace = DS_EMPTY_INITIALIZER;
    mux_dp_trace(pmds, 1, cfg, packet, 0, &trace, sent);
    ds_put_format(out, "mux %s:\n", row->name);
    for (char *save = NULL, *line = strtok_r(ds_cstr(&trace), "\n", &save);
         line; line = strtok_r(NULL, "\n", &save)) {
        ds_put_format(out, "  %s\n", line);
    }

    ds_destroy(&trace);
    mux_pmd_destroy(&pmd);
    mux_config_destroy(cfg);
    ds_destroy(&problems);
    mux_rule_cache_destroy(cache);
    mux_ids_destroy(&ids);
}

/* A VXLAN packet that a mux sends, taken apart. */
struct sent_packet {
    ovs_be32 src, dst;          /* The mux's PA, and the backend host's. */
    uint32_t vni;
    struct flow inner;          /* The client's packet inside. */
};

/* Takes apart 'packet', which mux_dp_trace() built as the mux sends it:
 * outer Ethernet, IPv4, UDP and VXLAN headers, then the inner frame. */
static void
parse_sent(const struct dp_packet *packet, struct sent_packet *sent)
{
    const uint8_t *data = dp_packet_data(packet);
    const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *,
                                              data + ETH_HEADER_LEN);
    const struct vxlanhdr *vxlan = ALIGNED_CAST(
        const struct vxlanhdr *,
        data + ETH_HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN);
    sent->src = get_16aligned_be32(&ip->ip_src);
    sent->dst = get_16aligned_be32(&ip->ip_dst);
    sent->vni = ntohl(get_16aligned_be32(&vxlan->vx_vni)) >> 8;

    struct dp_packet *inner = dp_packet_clone_data(
        data + MUX_ENCAP_LEN, dp_packet_size(packet) - MUX_ENCAP_LEN);
    flow_extract(inner, &sent->inner);
    dp_packet_delete(inner);
}

/* Appends to 'out' the flow that the backend host's bridge sees when
 * 'sent' reaches its tunnel port, in ofproto/trace's syntax. */
static void
format_host_flow(const struct sent_packet *sent, struct ds *out)
{
    const struct flow *f = &sent->inner;
    ds_put_format(out, "in_port=slb-vxlan,tun_id=%"PRIu32",tun_src="IP_FMT
                  ",tun_dst="IP_FMT",dl_src="ETH_ADDR_FMT",dl_dst="
                  ETH_ADDR_FMT",%s,nw_src="IP_FMT",nw_dst="IP_FMT
                  ",nw_ttl=%"PRIu8",tp_src=%"PRIu16",tp_dst=%"PRIu16,
                  sent->vni, IP_ARGS(sent->src), IP_ARGS(sent->dst),
                  ETH_ADDR_ARGS(f->dl_src), ETH_ADDR_ARGS(f->dl_dst),
                  f->nw_proto == IPPROTO_TCP ? "tcp" : "udp",
                  IP_ARGS(f->nw_src), IP_ARGS(f->nw_dst), f->nw_ttl,
                  ntohs(f->tp_src), ntohs(f->tp_dst));
    if (f->nw_proto == IPPROTO_TCP) {
        ds_put_format(out, ",tcp_flags=0x%03"PRIx16, ntohs(f->tcp_flags));
    }
}

/* Runs "ofproto/trace BRIDGE FLOW" through the control socket of
 * 'target', as ovs-appctl's -t names it (a path, or a daemon's name, whose
 * pidfile in the run directory gives the socket), and appends its answer
 * to 'out', indented. */
static void
run_host_trace(const char *target, const char *bridge, const char *flow,
               struct ds *out)
{
    char *path;
    if (strchr(target, '/')) {
        path = xstrdup(target);
    } else {
        char *pidfile = xasprintf("%s/%s.pid", ovs_rundir(), target);
        pid_t pid = read_pidfile(pidfile);
        if (pid < 0) {
            ctl_fatal("cannot read pidfile \"%s\" (%s)", pidfile,
                      ovs_strerror(-pid));
        }
        free(pidfile);
        path = xasprintf("%s/%s.%ld.ctl", ovs_rundir(), target, (long) pid);
    }

    struct jsonrpc *client;
    int error = unixctl_client_create(path, &client);
    if (error) {
        ctl_fatal("%s: cannot connect (%s)", path, ovs_strerror(error));
    }
    free(path);
    char *argv[] = { CONST_CAST(char *, bridge), CONST_CAST(char *, flow) };
    char *result = NULL, *err = NULL;
    error = unixctl_client_transact(client, "ofproto/trace", 2, argv,
                                    &result, &err);
    jsonrpc_close(client);
    if (error) {
        ctl_fatal("%s: ofproto/trace failed (%s)", target,
                  ovs_strerror(error));
    } else if (err) {
        ctl_fatal("%s: ofproto/trace: %s", target, err);
    }
    for (char *save = NULL, *line = strtok_r(result, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        ds_put_format(out, "    %s\n", line);
    }
    free(result);
}

/* "trace PROTOCOL CLIENT:PORT VIP:PORT": what each mux, then the chosen
 * backend's host, does with a new flow's first packet. */
static void
cmd_trace(struct ctl_context *ctx)
{
    static const char *const protocols[] = { "tcp", "udp", NULL };
    int protocol;
    ovs_be32 client, vip;
    uint16_t client_port, port;

    check(slb_parse_enum("protocol", ctx->argv[1], protocols, &protocol));
    parse_endpoint("client", ctx->argv[2], &client, &client_port);
    parse_endpoint("VIP", ctx->argv[3], &vip, &port);
    const char *only = shash_find_data(&ctx->options, "--mux");
    const struct slbrec_mux *only_mux = (only ? find_mux(ctx, only, true)
                                         : NULL);
    const char *host_appctl = shash_find_data(&ctx->options,
                                              "--host-appctl");
    const char *bridge = shash_find_data(&ctx->options, "--bridge");

    struct eth_addr mux_mac = ETH_ADDR_C(02, 00, 00, 00, 00, 01);
    struct dp_packet *packet = first_packet(
        protocol ? IPPROTO_UDP : IPPROTO_TCP, client, client_port, vip,
        port, mux_mac);
    ds_put_format(&ctx->output, "flow: %s "IP_FMT":%"PRIu16" -> "IP_FMT
                  ":%"PRIu16"\n", protocols[protocol], IP_ARGS(client),
                  client_port, IP_ARGS(vip), port);

    size_t n;
    const struct slbrec_mux **muxes = SORTED_ROWS(mux, ctx->idl, &n);
    struct dp_packet *first_sent = NULL;
    const struct slbrec_mux *sender = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!only_mux || muxes[i] == only_mux) {
            struct dp_packet *sent;
            trace_mux(ctx, muxes[i], packet, mux_mac, &ctx->output, &sent);
            if (sent && !first_sent) {
                first_sent = sent;
                sender = muxes[i];
            } else {
                dp_packet_delete(sent);
            }
        }
    }
    if (!n) {
        ds_put_cstr(&ctx->output, "no mux in the database\n");
    }

    if (first_sent) {
        struct sent_packet sent;
        parse_sent(first_sent, &sent);
        const char *host_name = "?";
        const struct slbrec_host *host;
        SLBREC_HOST_FOR_EACH (host, ctx->idl) {
            ovs_be32 host_pa;
            if (ip_parse(host->pa, &host_pa) && host_pa == sent.dst) {
                host_name = host->name;
            }
        }
        struct ds flow = DS_EMPTY_INITIALIZER;
        format_host_flow(&sent, &flow);
        ds_put_format(&ctx->output, "host %s ("IP_FMT"), as mux %s sends "
                      "it:\n  ovs-appctl ofproto/trace %s '%s'\n", host_name,
                      IP_ARGS(sent.dst), sender->name,
                      bridge ? bridge : "br-int", ds_cstr(&flow));
        if (host_appctl) {
            run_host_trace(host_appctl, bridge ? bridge : "br-int",
                           ds_cstr(&flow), &ctx->output);
        }
        ds_destroy(&flow);
        dp_packet_delete(first_sent);
    }
    free(muxes);
    dp_packet_delete(packet);
}

static const struct ctl_command_syntax slb_commands[] = {
    { "init", 0, 0, "", pre_init, cmd_init, NULL, "", RW },
    { "show", 0, 0, "", NULL, cmd_show, NULL, "", RO },
    { "trace", 3, 3, "PROTOCOL CLIENT:PORT VIP:PORT", NULL, cmd_trace, NULL,
      "--mux=,--host-appctl=,--bridge=", RO },
    { "sync", 0, 0, "", pre_global_only, cmd_sync, NULL, "", RW },
    { "hosts-update", 0, 0, "", NULL, cmd_hosts_update, NULL, "", RW },

    { "set-connection", 1, INT_MAX, "TARGET...", pre_connection,
      cmd_set_connection, NULL, "--inactivity-probe=", RW },
    { "get-connection", 0, 0, "", pre_connection, cmd_get_connection, NULL,
      "", RO },
    { "del-connection", 0, 0, "", pre_connection, cmd_del_connection, NULL,
      "", RW },
    { "set-ssl", 3, 5, "PRIVATE-KEY CERTIFICATE CA-CERT [PROTOCOLS "
      "[CIPHERS]]", pre_ssl, cmd_set_ssl, NULL, "--bootstrap", RW },
    { "get-ssl", 0, 0, "", pre_ssl, cmd_get_ssl, NULL, "", RO },
    { "del-ssl", 0, 0, "", pre_ssl, cmd_del_ssl, NULL, "", RW },

    { "vnet-add", 2, INT_MAX, "VNET VNI [PREFIX...]", NULL, cmd_vnet_add,
      NULL, "--may-exist", RW },
    { "vnet-del", 1, 1, "VNET", NULL, cmd_vnet_del, NULL, "--if-exists",
      RW },
    { "vnet-list", 0, 0, "", NULL, cmd_vnet_list, NULL, "", RO },

    { "host-add", 2, 3, "HOST PA [GATEWAY]", NULL, cmd_host_add, NULL,
      "--may-exist,--gateway-mac=", RW },
    { "host-del", 1, 1, "HOST", NULL, cmd_host_del, NULL, "--if-exists",
      RW },
    { "host-list", 0, 0, "", NULL, cmd_host_list, NULL, "", RO },

    { "mux-add", 4, 4, "MUX PA AS ROUTER-ID", NULL, cmd_mux_add, NULL,
      "--may-exist,--hold-time=,--nexthop-mac=,--bgp-nexthop-ipv6=", RW },
    { "mux-del", 1, 1, "MUX", NULL, cmd_mux_del, NULL, "--if-exists", RW },
    { "mux-list", 0, 0, "", NULL, cmd_mux_list, NULL, "", RO },
    { "mux-peer-add", 3, 3, "MUX ADDRESS AS", NULL, cmd_mux_peer_add, NULL,
      "--may-exist,--password=", RW },
    { "mux-peer-del", 2, 2, "MUX ADDRESS", NULL, cmd_mux_peer_del, NULL,
      "--if-exists", RW },
    { "mux-peer-list", 1, 1, "MUX", NULL, cmd_mux_peer_list, NULL, "", RO },

    { "lb-add", 1, 1, "LB", pre_lb_add, cmd_lb_add, NULL, "--may-exist", RW },
    { "lb-del", 1, 1, "LB", NULL, cmd_lb_del, NULL, "--if-exists", RW },
    { "lb-list", 0, 0, "", NULL, cmd_lb_list, NULL, "", RO },

    { "frontend-add", 3, 3, "LB FRONTEND VIP", pre_frontend_add,
      cmd_frontend_add, NULL,
      "--may-exist,--internal,--vnet=", RW },
    { "frontend-del", 1, 1, "FRONTEND", NULL, cmd_frontend_del, NULL,
      "--if-exists", RW },
    { "frontend-list", 0, 1, "[LB]", NULL, cmd_frontend_list, NULL, "",
      RO },

    { "pool-add", 3, 3, "LB POOL VNET", pre_pool_add, cmd_pool_add, NULL,
      "--may-exist", RW },
    { "pool-del", 1, 1, "POOL", NULL, cmd_pool_del, NULL, "--if-exists",
      RW },
    { "pool-list", 0, 1, "[LB]", NULL, cmd_pool_list, NULL, "", RO },

    { "vm-add", 3, 3, "VNET CA HOST", pre_vm_add, cmd_vm_add, NULL,
      "--may-exist,--mac=,--iface-id=", RW },
    { "vm-del", 2, 2, "VNET CA", NULL, cmd_vm_del, NULL, "--if-exists", RW },
    { "vm-list", 0, 1, "[VNET]", NULL, cmd_vm_list, NULL, "", RO },

    { "backend-add", 3, 3, "POOL CA HOST", pre_backend_add,
      cmd_backend_add, NULL,
      "--may-exist,--vnet=,--mac=,--iface-id=,--weight=,--admin-state=",
      RW },
    { "backend-del", 2, 2, "POOL CA", NULL, cmd_backend_del, NULL,
      "--if-exists", RW },
    { "backend-admin", 3, 3, "POOL CA STATE", pre_backend_admin,
      cmd_backend_admin, NULL, "", RW },
    { "backend-weight", 3, 3, "POOL CA WEIGHT", pre_backend_admin,
      cmd_backend_weight, NULL, "", RW },
    { "backend-list", 0, 1, "[POOL]", NULL, cmd_backend_list, NULL, "",
      RO },

    { "probe-add", 4, 4, "LB PROBE PROTOCOL PORT",
      pre_probe_add, cmd_probe_add,
      NULL, "--may-exist,--path=,--interval=,--probe-timeout=,--up=,--down=",
      RW },
    { "probe-del", 1, 1, "PROBE", NULL, cmd_probe_del, NULL, "--if-exists",
      RW },
    { "probe-list", 0, 1, "[LB]", NULL, cmd_probe_list, NULL, "", RO },

    { "lb-rule-add", 7, 7,
      "LB RULE FRONTEND PROTOCOL PORT BACKEND-PORT POOL", pre_lb_rule_add,
      cmd_lb_rule_add, NULL,
      "--may-exist,--probe=,--distribution=,--floating-ip,--idle-timeout=,"
      "--no-healthy-backends=,"
      "--tcp-reset", RW },
    { "lb-rule-del", 1, 1, "RULE", NULL, cmd_lb_rule_del, NULL,
      "--if-exists", RW },
    { "lb-rule-list", 0, 1, "[LB]", NULL, cmd_lb_rule_list, NULL, "", RO },

    { "inbound-nat-add", 8, 8,
      "LB RULE FRONTEND PROTOCOL PORT POOL CA BACKEND-PORT",
      pre_inbound_nat_add, cmd_inbound_nat_add, NULL,
      "--may-exist,--floating-ip,--idle-timeout=",
      RW },
    { "inbound-nat-del", 1, 1, "RULE", NULL, cmd_inbound_nat_del, NULL,
      "--if-exists", RW },
    { "inbound-nat-list", 0, 1, "[LB]", NULL, cmd_inbound_nat_rule_list,
      NULL, "", RO },

    { "inbound-nat-pool-add", 8, 8,
      "LB RULE FRONTEND PROTOCOL FIRST-PORT LAST-PORT POOL BACKEND-PORT",
      pre_inbound_nat_pool_add, cmd_inbound_nat_pool_add, NULL,
      "--may-exist,--floating-ip,--idle-timeout=", RW },
    { "inbound-nat-pool-del", 1, 1, "RULE", NULL, cmd_inbound_nat_pool_del,
      NULL, "--if-exists", RW },
    { "inbound-nat-pool-list", 0, 1, "[LB]", NULL,
      cmd_inbound_nat_pool_list, NULL, "", RO },

    { "outbound-rule-add", 4, 4, "LB RULE FRONTEND[,FRONTEND...] POOL",
      NULL, cmd_outbound_rule_add, NULL,
      "--may-exist,--protocol=,--ports-per-instance=,--idle-timeout=", RW },
    { "outbound-rule-del", 1, 1, "RULE", NULL, cmd_outbound_rule_del, NULL,
      "--if-exists", RW },
    { "outbound-rule-list", 0, 1, "[LB]", NULL, cmd_outbound_rule_list,
      NULL, "", RO },
    { "snat-list", 0, 1, "[RULE]", NULL, cmd_snat_list, NULL, "", RO },

    { "acl-add", 5, 5, "ACL IFACE-ID DIRECTION PRIORITY ACTION", NULL,
      cmd_acl_add, NULL,
      "--may-exist,--protocol=,--src=,--dst=,--src-port=,--dst-port=", RW },
    { "acl-del", 1, 1, "ACL", NULL, cmd_acl_del, NULL, "--if-exists", RW },
    { "acl-list", 0, 1, "[IFACE-ID]", NULL, cmd_acl_list, NULL, "", RO },

    { "meter-add", 4, 4, "METER IFACE-ID DIRECTION KBPS", NULL,
      cmd_meter_add, NULL, "--may-exist,--burst=", RW },
    { "meter-del", 1, 1, "METER", NULL, cmd_meter_del, NULL, "--if-exists",
      RW },
    { "meter-list", 0, 1, "[IFACE-ID]", NULL, cmd_meter_list, NULL, "",
      RO },

    { "health-list", 0, 0, "", NULL, cmd_health_list, NULL, "", RO },

    { NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, RO },
};

static void
slb_ctl_cmd_init(void)
{
    ctl_init(&slbrec_idl_class, slbrec_table_classes, tables, NULL,
             slb_ctl_exit);
    ctl_register_commands(slb_commands);
}
