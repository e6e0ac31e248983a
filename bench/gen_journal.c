/*
 * Writes a data directory holding N seed-sized orders, through the real
 * store and journal writer, for measuring replay and start-up.
 *
 *   gen_journal DIR [N (1000000)] [USERS (10000)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "orderd/wal.h"

static void ignore(void *ctx, void *waiter, int durable)
{
    (void)ctx, (void)waiter, (void)durable;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_journal DIR [N] [USERS]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 1000000, users = argc > 3 ? atol(argv[3]) : 10000;
    mkdir(dir, 0750);
    orderd_store_t *store = orderd_store_new(256);
    orderd_replay_report_t *rep = calloc(1, sizeof(*rep));
    char err[512];
    if (store == NULL || rep == NULL || orderd_journal_replay(dir, store, rep) != 0) {
        fprintf(stderr, "gen_journal: cannot read %s: %s\n", dir, rep != NULL ? rep->error : "out of memory");
        return 1;
    }
    /* the writer only takes what is queued; --fsync no: the OS writes it */
    orderd_wal_config_t cfg = {.dir = dir, .fsync = ORDERD_FSYNC_NO, .snapshot_bytes = UINT64_MAX, .notify = ignore};
    orderd_wal_t *wal = orderd_wal_open(&cfg, store, rep, err, sizeof(err));
    if (wal == NULL) {
        fprintf(stderr, "gen_journal: %s\n", err);
        return 1;
    }
    /* the seed README's order */
    orderd_item_draft_t items[2] = {{{"123", 3}, 2, 1099}, {{"456", 3}, 1, 1999}};
    orderd_order_draft_t draft = {.items = items,
                                  .n_items = 2,
                                  .shipping_address = {"123 Main St, Anytown, USA", 25},
                                  .payment_method = {"credit_card", 11},
                                  .currency = {'U', 'S', 'D'},
                                  .total = 4197};
    char user[32];
    static _Alignas(8) unsigned char blob[512];
    for (long i = 0; i < n; ++i) {
        int len = snprintf(user, sizeof(user), "user-%ld", i % users);
        orderd_order_build((orderd_order_t *)blob, 0, (orderd_str_t){user, (size_t)len}, &draft, orderd_now_ms());
        if (orderd_store_create(store, (orderd_order_t *)blob, NULL, NULL, NULL, NULL, (void *)1) != ORDERD_STORE_OK) {
            fprintf(stderr, "gen_journal: create failed at %ld\n", i);
            return 1;
        }
    }
    orderd_wal_close(wal);
    printf("%ld orders for %ld users in %s\n", n, users, dir);
    orderd_store_free(store);
    free(rep);
    return 0;
}
