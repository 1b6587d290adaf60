/* The bench agent protocol v1 (docs/console-protocol.md) on UART0, over lwIP's
 * raw API (NO_SYS=1: everything runs in the main loop, interrupts only fill the
 * UART ring and wake the CPU). */
#include <string.h>
#include <stdlib.h>

#include "board.h"
#include "lan9118.h"
#include "build_id.h"

#include "lwip/opt.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "netif/ethernet.h"

#define DUT_NAME "lwip-m3"
#define STACK_NAME "lwip-2.1.3"

/* default address of the board until the bench sends `link set` */
#ifndef HB_DEFAULT_ADDR
#define HB_DEFAULT_ADDR "192.0.2.20/24"
#endif

/* ------------------------------------------------------------------------ */
/* output lines                                                              */

struct line {
    char b[512];
    unsigned n;
};

static struct line reply_ln, evt_ln;

static void l_begin(struct line *l) { l->n = 0; }
static void l_c(struct line *l, char c)
{
    if (l->n < sizeof l->b - 2) {   /* room for the newline; max 511 */
        l->b[l->n++] = c;
    }
}
static void l_s(struct line *l, const char *s)
{
    while (*s) {
        l_c(l, *s++);
    }
}
static void l_u(struct line *l, uint32_t v)
{
    char t[11];
    int i = 0;
    do {
        t[i++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (i) {
        l_c(l, t[--i]);
    }
}
static void l_ku(struct line *l, const char *k, uint32_t v)
{
    l_c(l, ' ');
    l_s(l, k);
    l_c(l, '=');
    l_u(l, v);
}
static void l_ks(struct line *l, const char *k, const char *v)
{
    l_c(l, ' ');
    l_s(l, k);
    l_c(l, '=');
    l_s(l, v);
}
static void l_ip(struct line *l, const ip_addr_t *ip)
{
    uint32_t a = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(ip)));
    l_u(l, a >> 24);
    l_c(l, '.');
    l_u(l, (a >> 16) & 0xffu);
    l_c(l, '.');
    l_u(l, (a >> 8) & 0xffu);
    l_c(l, '.');
    l_u(l, a & 0xffu);
}
static void l_kep(struct line *l, const char *k, const ip_addr_t *ip, uint16_t port)
{
    l_c(l, ' ');
    l_s(l, k);
    l_c(l, '=');
    l_ip(l, ip);
    l_c(l, ':');
    l_u(l, port);
}
static void l_end(struct line *l)
{
    l->b[l->n++] = '\n';
    uart_write(l->b, l->n);
    l->n = 0;
}

/* ------------------------------------------------------------------------ */
/* objects                                                                   */

enum { OBJ_FREE = 0, OBJ_CONN = 1, OBJ_LISTENER = 2 };
enum { M_CHECK = 0, M_DISCARD, M_ECHO, M_HOLD };
static const char *const mode_names[] = {"check", "discard", "echo", "hold"};

struct listener {
    uint8_t type;
    uint8_t mode;
    uint8_t autoclose;
    uint32_t lid;
    uint16_t port;
    struct tcp_pcb *pcb;
};

struct conn {
    uint8_t type;
    uint8_t mode;
    uint8_t autoclose;    /* close when the peer has closed (boot servers) */
    uint8_t connecting;   /* active open in progress */
    uint8_t want_shutdown, shut_done, want_close, closed, peer_fin, send_evt;
    uint8_t rx_mod;       /* rx_bytes % 251 */
    uint32_t id, lid;
    struct tcp_pcb *pcb;
    uint32_t iss;
    uint32_t created_ms;
    uint32_t tx_bytes, tx_acked, rx_bytes, rx_bad;
    uint32_t send_remaining, send_goal, send_evt_bytes;
    struct pbuf *echo_q;  /* received, not yet echoed (not yet tcp_recved) */
    struct pbuf *held;    /* hold mode: received, not yet delivered */
};

#define MAX_LISTENERS 16
#define MAX_CONNS 32
static struct listener listeners[MAX_LISTENERS];
static struct conn conns[MAX_CONNS];
static uint32_t next_id = 1, next_lid = 1;

struct udp_sock {
    struct udp_pcb *pcb;
    uint16_t port;
    uint8_t echo;
    uint32_t rx_dgrams, rx_bytes, tx_dgrams;
};
#define MAX_UDP 8
static struct udp_sock udps[MAX_UDP];

static struct netif netif;
static uint8_t mac_addr[6];
static uint32_t eth_id_rev;
static int eth_ok;

#define PAT_CHUNK 1536u
static uint8_t pattern[251u + PAT_CHUNK];

/* ------------------------------------------------------------------------ */
/* events                                                                    */

static void evt_simple(const char *name, uint32_t id)
{
    l_begin(&evt_ln);
    l_s(&evt_ln, "EVT ");
    l_s(&evt_ln, name);
    l_ku(&evt_ln, "id", id);
    l_end(&evt_ln);
}

static void conn_free(struct conn *c)
{
    if (c->echo_q) {
        pbuf_free(c->echo_q);
    }
    if (c->held) {
        pbuf_free(c->held);
    }
    memset(c, 0, sizeof *c);
}

/* the stack has freed (or moved to TIME_WAIT) the connection */
static void conn_gone(struct conn *c, int timewait)
{
    l_begin(&evt_ln);
    l_s(&evt_ln, "EVT closed");
    l_ku(&evt_ln, "id", c->id);
    if (timewait) {
        l_ks(&evt_ln, "state", "TIME_WAIT");
    }
    l_end(&evt_ln);
    conn_free(c);
}

static const char *state_name(enum tcp_state s)
{
    static const char *const names[] = {
        "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"};
    return ((unsigned)s < sizeof names / sizeof names[0]) ? names[s] : "CLOSED";
}

/* ------------------------------------------------------------------------ */
/* data path                                                                 */

static void pump(struct conn *c);

static void rx_account(struct conn *c, struct pbuf *p)
{
    for (struct pbuf *q = p; q; q = q->next) {
        if (c->mode == M_CHECK) {
            const uint8_t *d = (const uint8_t *)q->payload;
            uint32_t m = c->rx_mod;
            uint32_t bad = 0;
            for (u16_t i = 0; i < q->len; i++) {
                bad += (d[i] != m);
                if (++m == 251u) {
                    m = 0;
                }
            }
            c->rx_bad += bad;
        }
        c->rx_bytes += q->len;
        c->rx_mod = (uint8_t)(c->rx_bytes % 251u);
    }
}

/* hand received data to the application according to the rx mode */
static void deliver(struct conn *c, struct pbuf *p)
{
    rx_account(c, p);
    if (c->mode == M_ECHO) {
        if (c->echo_q) {
            pbuf_cat(c->echo_q, p);
        } else {
            c->echo_q = p;
        }
    } else {
        if (c->pcb && !c->closed) {
            tcp_recved(c->pcb, p->tot_len);
        }
        pbuf_free(p);
    }
}

static void echo_flush(struct conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    while (c->echo_q) {
        struct pbuf *q = c->echo_q;
        u16_t n = q->len;
        u16_t room = tcp_sndbuf(pcb);
        if (n > room) {
            n = room;
        }
        if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN) {
            break;
        }
        uint8_t flags = TCP_WRITE_FLAG_COPY;
        if (n < q->tot_len) {
            flags |= TCP_WRITE_FLAG_MORE;
        }
        if (tcp_write(pcb, q->payload, n, flags) != ERR_OK) {
            break;
        }
        c->tx_bytes += n;
        tcp_recved(pcb, n);
        c->echo_q = pbuf_free_header(q, n);
    }
}

static void pump(struct conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    if (!pcb || c->closed || c->connecting) {
        return;
    }
    int wrote = 0;
    if (pcb->state == ESTABLISHED || pcb->state == CLOSE_WAIT) {
        uint32_t before = c->tx_bytes;
        if (c->echo_q) {
            echo_flush(c);
        }
        while (c->send_remaining && !c->shut_done) {
            uint32_t n = c->send_remaining;
            u16_t room = tcp_sndbuf(pcb);
            if (n > room) {
                n = room;
            }
            if (n > PAT_CHUNK) {
                n = PAT_CHUNK;
            }
            if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN) {
                break;
            }
            uint8_t flags = TCP_WRITE_FLAG_COPY;
            if (n < c->send_remaining) {
                flags |= TCP_WRITE_FLAG_MORE;
            }
            if (tcp_write(pcb, pattern + (c->tx_bytes % 251u), (u16_t)n, flags) != ERR_OK) {
                break;
            }
            c->tx_bytes += n;
            c->send_remaining -= n;
        }
        wrote = c->tx_bytes != before;
    }
    if (wrote) {
        tcp_output(pcb);
    }
    if (c->send_remaining || c->echo_q) {
        return;
    }
    if (c->want_close) {
        if (c->held) {
            /* closing with undelivered data: deliver (and count) it first */
            struct pbuf *h = c->held;
            c->held = NULL;
            deliver(c, h);
        }
        if (tcp_close(pcb) == ERR_OK) {
            /* the pcb may already be freed: from now on only the reaper looks
             * at it, by address, without dereferencing */
            c->closed = 1;
        }
        return;
    }
    if (c->want_shutdown && !c->shut_done) {
        if (tcp_shutdown(pcb, 0, 1) == ERR_OK) {
            c->shut_done = 1;
        }
    }
}

static void check_sent_evt(struct conn *c)
{
    if (c->send_evt && c->tx_acked >= c->send_goal) {
        l_begin(&evt_ln);
        l_s(&evt_ln, "EVT sent");
        l_ku(&evt_ln, "id", c->id);
        l_ku(&evt_ln, "bytes", c->send_evt_bytes);
        l_end(&evt_ln);
        c->send_evt = 0;
        c->send_evt_bytes = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* lwIP callbacks                                                            */

static err_t cb_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct conn *c = (struct conn *)arg;
    (void)err;
    if (!c || c->type != OBJ_CONN || c->pcb != pcb) {
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) {
        if (!c->peer_fin) {
            c->peer_fin = 1;
            evt_simple("peer_closed", c->id);
        }
        if (c->autoclose) {
            c->want_close = 1;
            pump(c);
        }
        return ERR_OK;
    }
    if (c->mode == M_HOLD) {
        if (c->held) {
            pbuf_cat(c->held, p);
        } else {
            c->held = p;
        }
        return ERR_OK;
    }
    deliver(c, p);
    if (c->mode == M_ECHO) {
        pump(c);
    }
    return ERR_OK;
}

static err_t cb_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct conn *c = (struct conn *)arg;
    if (!c || c->type != OBJ_CONN || c->pcb != pcb) {
        return ERR_OK;
    }
    c->tx_acked += len;
    if (c->tx_acked > c->tx_bytes) {
        c->tx_acked = c->tx_bytes;
    }
    check_sent_evt(c);
    pump(c);
    return ERR_OK;
}

static err_t cb_poll(void *arg, struct tcp_pcb *pcb)
{
    struct conn *c = (struct conn *)arg;
    if (c && c->type == OBJ_CONN && c->pcb == pcb) {
        pump(c);
    }
    return ERR_OK;
}

static void cb_err(void *arg, err_t err)
{
    struct conn *c = (struct conn *)arg;
    if (!c || c->type != OBJ_CONN) {
        return;
    }
    c->pcb = NULL;   /* already freed by lwIP */
    const char *code = NULL;
    switch (err) {
    case ERR_RST:
        code = c->connecting ? "ECONNREFUSED" : "ECONNRESET";
        break;
    case ERR_ABRT:
    case ERR_TIMEOUT:
        code = "ETIMEDOUT";
        break;
    case ERR_CLSD:
        code = NULL;   /* orderly end after shutdown: no error */
        break;
    default:
        code = "EIO";
        break;
    }
    if (code) {
        l_begin(&evt_ln);
        l_s(&evt_ln, "EVT error");
        l_ku(&evt_ln, "id", c->id);
        l_ks(&evt_ln, "code", code);
        l_end(&evt_ln);
    }
    conn_gone(c, 0);
}

/* ISS = sequence number of our SYN (connect) or SYN-ACK (accept), still queued */
static uint32_t pcb_iss(struct tcp_pcb *pcb, uint32_t fallback)
{
    struct tcp_seg *seg = pcb->unacked ? pcb->unacked : pcb->unsent;
    if (seg && (TCPH_FLAGS(seg->tcphdr) & TCP_SYN)) {
        return lwip_ntohl(seg->tcphdr->seqno);
    }
    return fallback;
}

static struct conn *conn_alloc(void)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        if (conns[i].type == OBJ_FREE) {
            struct conn *c = &conns[i];
            memset(c, 0, sizeof *c);
            c->type = OBJ_CONN;
            c->id = next_id++;
            c->created_ms = board_ms();
            return c;
        }
    }
    return NULL;
}

static void conn_attach(struct conn *c, struct tcp_pcb *pcb)
{
    c->pcb = pcb;
    tcp_arg(pcb, c);
    tcp_recv(pcb, cb_recv);
    tcp_sent(pcb, cb_sent);
    tcp_err(pcb, cb_err);
    tcp_poll(pcb, cb_poll, 1);
}

static err_t cb_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    struct listener *L = (struct listener *)arg;
    if (err != ERR_OK || newpcb == NULL || !L || L->type != OBJ_LISTENER) {
        return ERR_VAL;
    }
    struct conn *c = conn_alloc();
    if (!c) {
        tcp_abort(newpcb);
        return ERR_ABRT;
    }
    c->lid = L->lid;
    c->mode = L->mode;
    c->autoclose = L->autoclose;
    c->iss = pcb_iss(newpcb, newpcb->lastack);
    conn_attach(c, newpcb);
    l_begin(&evt_ln);
    l_s(&evt_ln, "EVT accepted");
    l_ku(&evt_ln, "id", c->id);
    l_ku(&evt_ln, "lid", c->lid);
    l_kep(&evt_ln, "local", &newpcb->local_ip, newpcb->local_port);
    l_kep(&evt_ln, "remote", &newpcb->remote_ip, newpcb->remote_port);
    l_end(&evt_ln);
    return ERR_OK;
}

static err_t cb_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct conn *c = (struct conn *)arg;
    (void)err;
    if (!c || c->type != OBJ_CONN || c->pcb != pcb) {
        return ERR_OK;
    }
    c->connecting = 0;
    l_begin(&evt_ln);
    l_s(&evt_ln, "EVT connected");
    l_ku(&evt_ln, "id", c->id);
    l_kep(&evt_ln, "local", &pcb->local_ip, pcb->local_port);
    l_kep(&evt_ln, "remote", &pcb->remote_ip, pcb->remote_port);
    l_end(&evt_ln);
    pump(c);
    return ERR_OK;
}

/* Find connections whose pcb the stack let go of without a callback (after an
 * application close, or on entering TIME_WAIT). Compares addresses only. */
static void reap(void)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &conns[i];
        if (c->type != OBJ_CONN || c->pcb == NULL) {
            continue;
        }
        int alive = 0;
        for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) {
            if (p == c->pcb && p->callback_arg == c) {
                alive = 1;
                break;
            }
        }
        if (alive) {
            continue;
        }
        int tw = 0;
        for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) {
            if (p == c->pcb && p->callback_arg == c) {
                tw = 1;
                tcp_arg(p, NULL);
                tcp_err(p, NULL);
                tcp_recv(p, NULL);
                tcp_sent(p, NULL);
                tcp_poll(p, NULL, 0);
                break;
            }
        }
        c->pcb = NULL;
        conn_gone(c, tw);
    }
}

/* ------------------------------------------------------------------------ */
/* UDP                                                                       */

static void udp_cb(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                   const ip_addr_t *addr, u16_t port)
{
    struct udp_sock *u = (struct udp_sock *)arg;
    u->rx_dgrams++;
    u->rx_bytes += p->tot_len;
    if (u->echo) {
        if (udp_sendto(pcb, p, addr, port) == ERR_OK) {
            u->tx_dgrams++;
        }
    }
    pbuf_free(p);
}

static struct udp_sock *udp_find(uint16_t port)
{
    for (int i = 0; i < MAX_UDP; i++) {
        if (udps[i].pcb && udps[i].port == port) {
            return &udps[i];
        }
    }
    return NULL;
}

/* 0 ok, else error code string */
static const char *udp_open(uint16_t port, int echo)
{
    if (udp_find(port)) {
        return "EBUSY";
    }
    struct udp_sock *u = NULL;
    for (int i = 0; i < MAX_UDP; i++) {
        if (!udps[i].pcb) {
            u = &udps[i];
            break;
        }
    }
    if (!u) {
        return "ENOMEM";
    }
    struct udp_pcb *pcb = udp_new();
    if (!pcb) {
        return "ENOMEM";
    }
    if (udp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        udp_remove(pcb);
        return "EBUSY";
    }
    memset(u, 0, sizeof *u);
    u->pcb = pcb;
    u->port = port;
    u->echo = (uint8_t)echo;
    udp_recv(pcb, udp_cb, u);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* listeners                                                                 */

static const char *listen_open(uint16_t port, int mode, int backlog, int autoclose,
                               struct listener **out)
{
    struct listener *L = NULL;
    for (int i = 0; i < MAX_LISTENERS; i++) {
        if (listeners[i].type == OBJ_FREE) {
            L = &listeners[i];
            break;
        }
    }
    if (!L) {
        return "ENOMEM no free listener";
    }
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb) {
        return "ENOMEM no free pcb";
    }
    if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        tcp_close(pcb);
        return "EBUSY port in use";
    }
    err_t err;
    struct tcp_pcb *lpcb = tcp_listen_with_backlog_and_err(pcb, (u8_t)backlog, &err);
    if (!lpcb) {
        tcp_close(pcb);
        return err == ERR_USE ? "EBUSY port in use" : "ENOMEM no free listen pcb";
    }
    memset(L, 0, sizeof *L);
    L->type = OBJ_LISTENER;
    L->lid = next_lid++;
    L->port = port;
    L->mode = (uint8_t)mode;
    L->autoclose = (uint8_t)autoclose;
    L->pcb = lpcb;
    tcp_arg(lpcb, L);
    tcp_accept(lpcb, cb_accept);
    *out = L;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                   */

#define MAX_TOK 16
static char *tok[MAX_TOK];
static int ntok;

static int parse_u32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    if (!*s) {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        uint32_t d = (uint32_t)(*s - '0');
        if (v > (0xffffffffu - d) / 10u) {
            return -1;
        }
        v = v * 10u + d;
    }
    *out = v;
    return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
    uint32_t v;
    if (parse_u32(s, &v) || v == 0 || v > 65535u) {
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* strict dotted quad; optional "/prefix" when prefix != NULL */
static int parse_ip(const char *s, ip4_addr_t *ip, int *prefix)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10u + (uint32_t)(*s - '0');
            if (++digits > 3) {
                return -1;
            }
            s++;
        }
        if (!digits || v > 255u) {
            return -1;
        }
        a = (a << 8) | v;
        if (i < 3) {
            if (*s != '.') {
                return -1;
            }
            s++;
        }
    }
    if (prefix) {
        *prefix = -1;
        if (*s == '/') {
            uint32_t p;
            if (parse_u32(s + 1, &p) || p > 32u) {
                return -1;
            }
            *prefix = (int)p;
            s += strlen(s);
        }
    }
    if (*s) {
        return -1;
    }
    ip4_addr_set_u32(ip, lwip_htonl(a));
    return 0;
}

static int parse_mode(const char *s)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* value of key=value among tok[from..], NULL if absent */
static const char *kv(int from, const char *key)
{
    size_t kl = strlen(key);
    for (int i = from; i < ntok; i++) {
        if (strncmp(tok[i], key, kl) == 0 && tok[i][kl] == '=') {
            return tok[i] + kl + 1;
        }
    }
    return NULL;
}

/* every tok[from..] must be key=value with a key from the list */
static int kv_only(int from, const char *const *keys)
{
    for (int i = from; i < ntok; i++) {
        const char *eq = strchr(tok[i], '=');
        if (!eq) {
            return -1;
        }
        int ok = 0;
        for (const char *const *k = keys; *k; k++) {
            size_t kl = strlen(*k);
            if ((size_t)(eq - tok[i]) == kl && strncmp(tok[i], *k, kl) == 0) {
                ok = 1;
            }
        }
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

static void reply_err(const char *code, const char *text)
{
    l_begin(&reply_ln);
    l_s(&reply_ln, "ERR ");
    l_s(&reply_ln, code);
    if (text && *text) {
        l_c(&reply_ln, ' ');
        l_s(&reply_ln, text);
    }
    l_end(&reply_ln);
}

/* "ECODE free text" */
static void reply_err2(const char *code_text)
{
    l_begin(&reply_ln);
    l_s(&reply_ln, "ERR ");
    l_s(&reply_ln, code_text);
    l_end(&reply_ln);
}

static void reply_ok(const char *verb)
{
    l_begin(&reply_ln);
    l_s(&reply_ln, "OK ");
    l_s(&reply_ln, verb);
}

static struct conn *conn_by_tok(int i)
{
    uint32_t id;
    if (i >= ntok || parse_u32(tok[i], &id) || id == 0) {
        reply_err("EINVAL", "bad connection id");
        return NULL;
    }
    for (int k = 0; k < MAX_CONNS; k++) {
        if (conns[k].type == OBJ_CONN && conns[k].id == id) {
            return &conns[k];
        }
    }
    reply_err("ENOENT", "no such connection");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* commands                                                                  */

static void hello_fields(struct line *l)
{
    l_ks(l, "name", DUT_NAME);
    l_ks(l, "proto", "1");
    l_ks(l, "stack", STACK_NAME);
    l_ks(l, "build", HB_BUILD_ID);
}

static void cmd_hello(void)
{
    reply_ok("hello");
    hello_fields(&reply_ln);
    l_end(&reply_ln);
}

static void cmd_consts(void)
{
    struct line *l = &reply_ln;
    reply_ok("consts");
    l_ku(l, "TCP_MSS", TCP_MSS);
    l_ku(l, "TCP_WND", TCP_WND);
    l_ku(l, "TCP_SND_BUF", TCP_SND_BUF);
    l_ku(l, "TCP_SND_QUEUELEN", TCP_SND_QUEUELEN);
    l_ku(l, "TCP_MSL", TCP_MSL);
    l_ku(l, "TCP_FIN_WAIT_TIMEOUT", TCP_FIN_WAIT_TIMEOUT);
    l_ku(l, "TCP_SYNMAXRTX", TCP_SYNMAXRTX);
    l_ku(l, "TCP_MAXRTX", TCP_MAXRTX);
    l_ku(l, "TCP_TMR_INTERVAL", TCP_TMR_INTERVAL);
    l_ku(l, "TCP_SLOW_INTERVAL", TCP_SLOW_INTERVAL);
    l_ku(l, "TCP_WND_SCALE", LWIP_WND_SCALE);
    l_ku(l, "TCP_RCV_SCALE", LWIP_WND_SCALE ? TCP_RCV_SCALE : 0);
    l_ku(l, "LWIP_TCP_SACK_OUT", LWIP_TCP_SACK_OUT);
    l_ku(l, "LWIP_TCP_TIMESTAMPS", LWIP_TCP_TIMESTAMPS);
    l_ku(l, "TCP_QUEUE_OOSEQ", TCP_QUEUE_OOSEQ);
    l_ku(l, "MEMP_NUM_TCP_PCB", MEMP_NUM_TCP_PCB);
    l_ku(l, "MEMP_NUM_TCP_PCB_LISTEN", MEMP_NUM_TCP_PCB_LISTEN);
    l_ku(l, "MEMP_NUM_TCP_SEG", MEMP_NUM_TCP_SEG);
    l_ku(l, "PBUF_POOL_SIZE", PBUF_POOL_SIZE);
    l_ku(l, "MEM_SIZE", MEM_SIZE);
    l_ks(l, "ISN", "counter");
    l_end(l);
}

static void link_fields(struct line *l)
{
    char macs[18];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        macs[i * 3] = hex[mac_addr[i] >> 4];
        macs[i * 3 + 1] = hex[mac_addr[i] & 15];
        macs[i * 3 + 2] = i < 5 ? ':' : 0;
    }
    l_ks(l, "mac", macs);
    l_s(l, " addr=");
    l_ip(l, (const ip_addr_t *)netif_ip_addr4(&netif));
    uint32_t mask = lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&netif)));
    uint32_t prefix = 0;
    while (mask & 0x80000000u) {
        prefix++;
        mask <<= 1;
    }
    l_c(l, '/');
    l_u(l, prefix);
    l_s(l, " gw=");
    l_ip(l, (const ip_addr_t *)netif_ip4_gw(&netif));
    l_ku(l, "mtu", netif.mtu);
    l_ku(l, "up", (eth_ok && netif_is_up(&netif) && lan9118_link_up()) ? 1u : 0u);
    l_ku(l, "rx_frames", g_eth_stats.rx_frames);
    l_ku(l, "tx_frames", g_eth_stats.tx_frames);
    l_ku(l, "rx_errors", g_eth_stats.rx_errors);
    l_ku(l, "tx_errors", g_eth_stats.tx_errors);
    l_ku(l, "rx_dropped", g_eth_stats.rx_dropped + g_eth_stats.rx_hw_dropped);
    l_ku(l, "rx_fifo_full", g_eth_stats.rx_fifo_full);
    l_ku(l, "tx_fifo_wait", g_eth_stats.tx_fifo_wait);
    l_ku(l, "int_rxdf", g_eth_stats.int_rxdf);
    l_ku(l, "int_rxe", g_eth_stats.int_rxe);
    l_ku(l, "int_txe", g_eth_stats.int_txe);
    l_ku(l, "uart_rx_overruns", uart_rx_overruns());
    l_ks(l, "chip", "lan9118");
    l_ku(l, "chip_rev", eth_id_rev & 0xffffu);
}

static void cmd_link(void)
{
    if (ntok >= 2 && strcmp(tok[1], "set") == 0) {
        static const char *const keys[] = {"addr", "gw", "mtu", "initcwnd", NULL};
        if (kv_only(2, keys)) {
            reply_err("EINVAL", "usage: link set [addr=a.b.c.d/p] [gw=a.b.c.d] [mtu=n]");
            return;
        }
        if (kv(2, "initcwnd")) {
            reply_err("EINVAL", "initcwnd is not settable on lwIP (compiled-in rule)");
            return;
        }
        const char *a = kv(2, "addr"), *g = kv(2, "gw"), *m = kv(2, "mtu");
        ip4_addr_t ip, mask, gw;
        int prefix = -1;
        uint32_t mtu = 0;
        if (a && parse_ip(a, &ip, &prefix)) {
            reply_err("EINVAL", "bad addr");
            return;
        }
        if (g && parse_ip(g, &gw, NULL)) {
            reply_err("EINVAL", "bad gw");
            return;
        }
        if (m && (parse_u32(m, &mtu) || mtu < 576u || mtu > 1500u)) {
            reply_err("EINVAL", "mtu must be 576..1500");
            return;
        }
        if (a) {
            if (prefix < 0) {
                ip4_addr_copy(mask, *netif_ip4_netmask(&netif));
            } else {
                uint32_t mk = prefix ? (0xffffffffu << (32 - prefix)) : 0u;
                ip4_addr_set_u32(&mask, lwip_htonl(mk));
            }
            netif_set_addr(&netif, &ip, &mask, g ? &gw : netif_ip4_gw(&netif));
        } else if (g) {
            netif_set_gw(&netif, &gw);
        }
        if (m) {
            netif.mtu = (u16_t)mtu;
        }
        reply_ok("link");
        link_fields(&reply_ln);
        l_end(&reply_ln);
        return;
    }
    if (ntok != 1) {
        reply_err("EINVAL", "usage: link | link set ...");
        return;
    }
    reply_ok("link");
    link_fields(&reply_ln);
    l_end(&reply_ln);
}

static void cmd_set(void)
{
    if (ntok != 3) {
        reply_err("EINVAL", "usage: set KEY VALUE");
        return;
    }
    reply_err("EINVAL", "constants are compiled in on lwIP");
}

static void cmd_listen(void)
{
    uint16_t port;
    static const char *const keys[] = {"mode", "backlog", NULL};
    if (ntok < 2 || parse_port(tok[1], &port) || kv_only(2, keys)) {
        reply_err("EINVAL", "usage: listen <port> [mode=check|discard|echo|hold] [backlog=n]");
        return;
    }
    int mode = M_CHECK;
    const char *ms = kv(2, "mode");
    if (ms && (mode = parse_mode(ms)) < 0) {
        reply_err("EINVAL", "bad mode");
        return;
    }
    uint32_t backlog = TCP_DEFAULT_LISTEN_BACKLOG;
    const char *bs = kv(2, "backlog");
    if (bs && (parse_u32(bs, &backlog) || backlog < 1u || backlog > 255u)) {
        reply_err("EINVAL", "backlog must be 1..255");
        return;
    }
    struct listener *L;
    const char *e = listen_open(port, mode, (int)backlog, 0, &L);
    if (e) {
        reply_err2(e);
        return;
    }
    reply_ok("listen");
    l_ku(&reply_ln, "lid", L->lid);
    l_ku(&reply_ln, "port", L->port);
    l_end(&reply_ln);
}

static void cmd_unlisten(void)
{
    uint32_t lid;
    if (ntok != 2 || parse_u32(tok[1], &lid)) {
        reply_err("EINVAL", "usage: unlisten <lid>");
        return;
    }
    for (int i = 0; i < MAX_LISTENERS; i++) {
        struct listener *L = &listeners[i];
        if (L->type == OBJ_LISTENER && L->lid == lid) {
            tcp_arg(L->pcb, NULL);
            tcp_close(L->pcb);
            memset(L, 0, sizeof *L);
            reply_ok("unlisten");
            l_ku(&reply_ln, "lid", lid);
            l_end(&reply_ln);
            return;
        }
    }
    reply_err("ENOENT", "no such listener");
}

static void cmd_connect(void)
{
    ip4_addr_t ip;
    uint16_t port, lport = 0;
    static const char *const keys[] = {"lport", "mode", NULL};
    if (ntok < 3 || parse_ip(tok[1], &ip, NULL) || parse_port(tok[2], &port) ||
        kv_only(3, keys)) {
        reply_err("EINVAL", "usage: connect <addr> <port> [lport=p] [mode=...]");
        return;
    }
    const char *ls = kv(3, "lport");
    if (ls && parse_port(ls, &lport)) {
        reply_err("EINVAL", "bad lport");
        return;
    }
    int mode = M_CHECK;
    const char *ms = kv(3, "mode");
    if (ms && (mode = parse_mode(ms)) < 0) {
        reply_err("EINVAL", "bad mode");
        return;
    }
    struct conn *c = conn_alloc();
    if (!c) {
        reply_err("ENOMEM", "no free connection slot");
        return;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb) {
        conn_free(c);
        reply_err("ENOMEM", "no free pcb");
        return;
    }
    if (lport && tcp_bind(pcb, IP_ANY_TYPE, lport) != ERR_OK) {
        tcp_close(pcb);
        conn_free(c);
        reply_err("EBUSY", "local port in use");
        return;
    }
    c->mode = (uint8_t)mode;
    c->connecting = 1;
    conn_attach(c, pcb);
    ip_addr_t dst;
    ip_addr_copy_from_ip4(dst, ip);
    err_t err = tcp_connect(pcb, &dst, port, cb_connected);
    if (err != ERR_OK) {
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_abort(pcb);
        conn_free(c);
        if (err == ERR_RTE) {
            reply_err("EIO", "no route to host");
        } else if (err == ERR_USE) {
            reply_err("EBUSY", "address in use");
        } else if (err == ERR_MEM || err == ERR_BUF) {
            reply_err("ENOMEM", "out of memory");
        } else {
            reply_err("EIO", "tcp_connect failed");
        }
        return;
    }
    c->iss = pcb_iss(pcb, pcb->snd_nxt - 1u);
    reply_ok("connect");
    l_ku(&reply_ln, "id", c->id);
    l_end(&reply_ln);
}

static void cmd_send(void)
{
    struct conn *c;
    uint32_t n;
    if (ntok != 3) {
        reply_err("EINVAL", "usage: send <id> <nbytes>");
        return;
    }
    if (parse_u32(tok[2], &n) || n == 0) {
        reply_err("EINVAL", "bad byte count");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    if (!c->pcb || c->closed || c->want_close || c->want_shutdown ||
        !(c->pcb->state == ESTABLISHED || c->pcb->state == CLOSE_WAIT ||
          c->pcb->state == SYN_SENT || c->pcb->state == SYN_RCVD)) {
        reply_err("ESTATE", "connection cannot send");
        return;
    }
    c->send_remaining += n;
    c->send_goal = c->tx_bytes + c->send_remaining;
    c->send_evt_bytes += n;
    c->send_evt = 1;
    reply_ok("send");
    l_ku(&reply_ln, "id", c->id);
    l_ku(&reply_ln, "queued", n);
    l_end(&reply_ln);
    pump(c);
}

static void cmd_rx(void)
{
    struct conn *c;
    int mode;
    if (ntok != 3 || (mode = parse_mode(tok[2])) < 0) {
        reply_err("EINVAL", "usage: rx <id> check|discard|echo|hold");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    c->mode = (uint8_t)mode;
    reply_ok("rx");
    l_ku(&reply_ln, "id", c->id);
    l_ks(&reply_ln, "mode", mode_names[mode]);
    l_end(&reply_ln);
    if (mode != M_HOLD && c->held) {
        struct pbuf *h = c->held;
        c->held = NULL;
        deliver(c, h);
    }
    pump(c);
}

static void cmd_shutdown(void)
{
    struct conn *c;
    if (ntok != 2) {
        reply_err("EINVAL", "usage: shutdown <id>");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    if (!c->pcb || c->closed || c->connecting) {
        reply_err("ESTATE", "connection not open");
        return;
    }
    c->want_shutdown = 1;
    reply_ok("shutdown");
    l_ku(&reply_ln, "id", c->id);
    l_end(&reply_ln);
    pump(c);
}

static void cmd_close(void)
{
    struct conn *c;
    if (ntok != 2) {
        reply_err("EINVAL", "usage: close <id>");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    uint32_t id = c->id;
    c->want_close = 1;
    if (c->connecting && c->pcb && !c->closed) {
        /* SYN_SENT: lwIP frees the pcb at once */
        c->send_remaining = 0;
    }
    reply_ok("close");
    l_ku(&reply_ln, "id", id);
    l_end(&reply_ln);
    if (c->pcb && !c->closed) {
        if (c->connecting) {
            if (tcp_close(c->pcb) == ERR_OK) {
                c->closed = 1;
            }
        } else {
            pump(c);
        }
    }
    reap();
}

static void cmd_abort(void)
{
    struct conn *c;
    if (ntok != 2) {
        reply_err("EINVAL", "usage: abort <id>");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    struct tcp_pcb *pcb = c->pcb;
    if (pcb) {
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_poll(pcb, NULL, 0);
        c->pcb = NULL;
        tcp_abort(pcb);
    }
    reply_ok("abort");
    l_ku(&reply_ln, "id", c->id);
    l_end(&reply_ln);
    conn_gone(c, 0);
}

static void cmd_stat(void)
{
    struct conn *c;
    if (ntok != 2) {
        reply_err("EINVAL", "usage: stat <id>");
        return;
    }
    if (!(c = conn_by_tok(1))) {
        return;
    }
    struct line *l = &reply_ln;
    struct tcp_pcb *p = c->pcb;
    reply_ok("stat");
    l_ku(l, "id", c->id);
    if (!p) {
        l_ks(l, "state", "CLOSED");
        l_end(l);
        return;
    }
    l_ks(l, "state", state_name(p->state));
    l_kep(l, "local", &p->local_ip, p->local_port);
    l_kep(l, "remote", &p->remote_ip, p->remote_port);
    l_ku(l, "snd_una", p->lastack);
    l_ku(l, "snd_nxt", p->snd_nxt);
    l_ku(l, "rcv_nxt", p->rcv_nxt);
    l_ku(l, "iss", c->iss);
    l_ku(l, "cwnd", p->cwnd);
    l_ku(l, "ssthresh", p->ssthresh);
    l_ku(l, "rto_ms", (uint32_t)p->rto * TCP_SLOW_INTERVAL);
    l_ku(l, "rtt_ms", (uint32_t)(p->sa >> 3) * TCP_SLOW_INTERVAL);
    l_ku(l, "nrtx", p->nrtx);
    l_ku(l, "snd_wnd", p->snd_wnd);
    l_ku(l, "rcv_wnd", p->rcv_wnd);
    l_ku(l, "mss", p->mss);
#if LWIP_WND_SCALE
    l_ku(l, "snd_wscale", p->snd_scale);
    l_ku(l, "rcv_wscale", p->rcv_scale);
#endif
    l_ks(l, "ca", "reno");
    l_ku(l, "tx_bytes", c->tx_bytes);
    l_ku(l, "tx_acked", c->tx_acked);
    l_ku(l, "rx_bytes", c->rx_bytes);
    l_ku(l, "rx_bad", c->rx_bad);
    l_ks(l, "mode", mode_names[c->mode]);
    l_ku(l, "age_ms", board_ms() - c->created_ms);
    l_end(l);
}

static void cmd_conns(void)
{
    struct line *l = &reply_ln;
    uint32_t n = 0;
    for (struct tcp_pcb_listen *lp = tcp_listen_pcbs.listen_pcbs; lp; lp = lp->next) {
        struct listener *L = (struct listener *)lp->callback_arg;
        l_begin(l);
        l_s(l, "- id=0");
        if (L && L->type == OBJ_LISTENER) {
            l_ku(l, "lid", L->lid);
        }
        l_ks(l, "state", "LISTEN");
        l_kep(l, "local", &lp->local_ip, lp->local_port);
        l_kep(l, "remote", IP_ADDR_ANY, 0);
        l_end(l);
        n++;
    }
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) {
        struct conn *c = (struct conn *)p->callback_arg;
        int mine = c && c->type == OBJ_CONN && c->pcb == p;
        l_begin(l);
        l_s(l, "- id=");
        l_u(l, mine ? c->id : 0u);
        l_ks(l, "state", state_name(p->state));
        l_kep(l, "local", &p->local_ip, p->local_port);
        l_kep(l, "remote", &p->remote_ip, p->remote_port);
        if (mine) {
            l_ku(l, "age_ms", board_ms() - c->created_ms);
        }
        l_end(l);
        n++;
    }
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) {
        l_begin(l);
        l_s(l, "- id=0");
        l_ks(l, "state", state_name(p->state));
        l_kep(l, "local", &p->local_ip, p->local_port);
        l_kep(l, "remote", &p->remote_ip, p->remote_port);
        l_end(l);
        n++;
    }
    reply_ok("conns");
    l_ku(l, "n", n);
    l_end(l);
}

static void cmd_udp(void)
{
    uint16_t port;
    if (ntok >= 3 && strcmp(tok[1], "bind") == 0) {
        static const char *const keys[] = {"mode", NULL};
        if (parse_port(tok[2], &port) || kv_only(3, keys)) {
            reply_err("EINVAL", "usage: udp bind <port> [mode=echo|count]");
            return;
        }
        const char *m = kv(3, "mode");
        int echo = 0;
        if (m) {
            if (strcmp(m, "echo") == 0) {
                echo = 1;
            } else if (strcmp(m, "count") != 0) {
                reply_err("EINVAL", "mode must be echo or count");
                return;
            }
        }
        const char *e = udp_open(port, echo);
        if (e) {
            reply_err(e, "cannot bind");
            return;
        }
        reply_ok("udp bind");
        l_ku(&reply_ln, "port", port);
        l_end(&reply_ln);
        return;
    }
    if (ntok == 3 && strcmp(tok[1], "stat") == 0) {
        struct udp_sock *u;
        if (parse_port(tok[2], &port)) {
            reply_err("EINVAL", "bad port");
            return;
        }
        if (!(u = udp_find(port))) {
            reply_err("ENOENT", "port not bound");
            return;
        }
        reply_ok("udp stat");
        l_ku(&reply_ln, "port", port);
        l_ku(&reply_ln, "rx_dgrams", u->rx_dgrams);
        l_ku(&reply_ln, "rx_bytes", u->rx_bytes);
        l_ku(&reply_ln, "tx_dgrams", u->tx_dgrams);
        l_ks(&reply_ln, "mode", u->echo ? "echo" : "count");
        l_end(&reply_ln);
        return;
    }
    reply_err("EINVAL", "usage: udp bind <port> [mode=echo|count] | udp stat <port>");
}

static void cmd_counters(void)
{
    struct line *l = &reply_ln;
    reply_ok("counters");
#if LWIP_STATS
    l_ku(l, "link_xmit", lwip_stats.link.xmit);
    l_ku(l, "link_recv", lwip_stats.link.recv);
    l_ku(l, "link_drop", lwip_stats.link.drop);
    l_ku(l, "link_memerr", lwip_stats.link.memerr);
    l_ku(l, "etharp_xmit", lwip_stats.etharp.xmit);
    l_ku(l, "etharp_recv", lwip_stats.etharp.recv);
    l_ku(l, "ip_xmit", lwip_stats.ip.xmit);
    l_ku(l, "ip_recv", lwip_stats.ip.recv);
    l_ku(l, "ip_drop", lwip_stats.ip.drop);
    l_ku(l, "ip_chkerr", lwip_stats.ip.chkerr);
    l_ku(l, "icmp_xmit", lwip_stats.icmp.xmit);
    l_ku(l, "icmp_recv", lwip_stats.icmp.recv);
    l_ku(l, "udp_xmit", lwip_stats.udp.xmit);
    l_ku(l, "udp_recv", lwip_stats.udp.recv);
    l_ku(l, "udp_drop", lwip_stats.udp.drop);
    l_ku(l, "tcp_xmit", lwip_stats.tcp.xmit);
    l_ku(l, "tcp_recv", lwip_stats.tcp.recv);
    l_ku(l, "tcp_fw", lwip_stats.tcp.fw);
    l_ku(l, "tcp_drop", lwip_stats.tcp.drop);
    l_ku(l, "tcp_chkerr", lwip_stats.tcp.chkerr);
    l_ku(l, "tcp_lenerr", lwip_stats.tcp.lenerr);
    l_ku(l, "tcp_memerr", lwip_stats.tcp.memerr);
    l_ku(l, "tcp_rterr", lwip_stats.tcp.rterr);
    l_ku(l, "tcp_proterr", lwip_stats.tcp.proterr);
    l_ku(l, "tcp_opterr", lwip_stats.tcp.opterr);
    l_ku(l, "tcp_err", lwip_stats.tcp.err);
    l_ku(l, "mem_err", lwip_stats.mem.err);
    l_ku(l, "pbuf_pool_err", lwip_stats.memp[MEMP_PBUF_POOL]->err);
    l_ku(l, "tcp_seg_err", lwip_stats.memp[MEMP_TCP_SEG]->err);
    l_ku(l, "tcp_pcb_err", lwip_stats.memp[MEMP_TCP_PCB]->err);
#endif
    l_end(l);
}

static void cmd_reboot(void)
{
    reply_ok("reboot");
    l_end(&reply_ln);
    board_reset();
}

static void dispatch(char *line)
{
    ntok = 0;
    char *s = line;
    while (*s) {
        while (*s == ' ' || *s == '\t') {
            *s++ = 0;
        }
        if (!*s) {
            break;
        }
        if (ntok == MAX_TOK) {
            reply_err("EINVAL", "too many arguments");
            return;
        }
        tok[ntok++] = s;
        while (*s && *s != ' ' && *s != '\t') {
            s++;
        }
    }
    if (ntok == 0) {
        return;   /* empty line: no reply */
    }
    reap();
    const char *v = tok[0];
    if (!strcmp(v, "hello")) {
        cmd_hello();
    } else if (!strcmp(v, "consts")) {
        cmd_consts();
    } else if (!strcmp(v, "link")) {
        cmd_link();
    } else if (!strcmp(v, "set")) {
        cmd_set();
    } else if (!strcmp(v, "listen")) {
        cmd_listen();
    } else if (!strcmp(v, "unlisten")) {
        cmd_unlisten();
    } else if (!strcmp(v, "connect")) {
        cmd_connect();
    } else if (!strcmp(v, "send")) {
        cmd_send();
    } else if (!strcmp(v, "rx")) {
        cmd_rx();
    } else if (!strcmp(v, "shutdown")) {
        cmd_shutdown();
    } else if (!strcmp(v, "close")) {
        cmd_close();
    } else if (!strcmp(v, "abort")) {
        cmd_abort();
    } else if (!strcmp(v, "stat")) {
        cmd_stat();
    } else if (!strcmp(v, "conns")) {
        cmd_conns();
    } else if (!strcmp(v, "udp")) {
        cmd_udp();
    } else if (!strcmp(v, "counters")) {
        cmd_counters();
    } else if (!strcmp(v, "reboot")) {
        cmd_reboot();
    } else {
        l_begin(&reply_ln);
        l_s(&reply_ln, "ERR EUNKNOWN unknown command ");
        l_s(&reply_ln, v);
        l_end(&reply_ln);
    }
}

/* ------------------------------------------------------------------------ */
/* console input                                                             */

static char inbuf[256];
static unsigned inlen;
static int inoverflow;

static void console_poll(void)
{
    int ch;
    while ((ch = uart_getc()) >= 0) {
        if (ch == '\n') {
            if (inoverflow) {
                reply_err("EINVAL", "line too long");
            } else {
                inbuf[inlen] = 0;
                dispatch(inbuf);
            }
            inlen = 0;
            inoverflow = 0;
        } else if (ch == '\r') {
            /* ignored */
        } else if (inlen < sizeof inbuf - 1) {
            inbuf[inlen++] = (char)ch;
        } else {
            inoverflow = 1;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* lwIP port glue                                                            */

u32_t sys_now(void) { return board_ms(); }

static uint32_t rand_state = 0x2545F491u;
int rand(void)
{
    /* xorshift32; seeded from the free-running timer at boot */
    uint32_t x = rand_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rand_state = x;
    return (int)(x & 0x7fffffffu);
}
void srand(unsigned seed) { rand_state = seed ? seed : 0x2545F491u; }

void hb_platform_assert(const char *msg, const char *file, int line)
{
    static const char pre[] = "!assert ";
    uart_write(pre, sizeof pre - 1);
    uart_write(file, strlen(file));
    uart_putc(':');
    char t[12];
    int i = 0;
    unsigned v = (unsigned)line;
    do {
        t[i++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (i) {
        uart_putc(t[--i]);
    }
    uart_putc(' ');
    uart_write(msg, strlen(msg));
    uart_putc('\n');
    board_reset();
}

/* ------------------------------------------------------------------------ */

int main(void)
{
    board_init();
    static const char banner[] = "hilbench mps2-lwip firmware " HB_BUILD_ID "\n";
    uart_write(banner, sizeof banner - 1);

    for (unsigned i = 0; i < sizeof pattern; i++) {
        pattern[i] = (uint8_t)(i % 251u);
    }
    srand((unsigned)(*(volatile uint32_t *)0x40000004u) ^ 0x9e3779b9u);

    lwip_init();
    eth_ok = lan9118_probe(mac_addr, &eth_id_rev) == 0;
    ip4_addr_t ip, mask, gw;
    int prefix = 24;
    if (parse_ip(HB_DEFAULT_ADDR, &ip, &prefix) || prefix < 1) {
        IP4_ADDR(&ip, 192, 0, 2, 20);
        prefix = 24;
    }
    ip4_addr_set_u32(&mask, lwip_htonl(0xffffffffu << (32 - prefix)));
    ip4_addr_set_zero(&gw);
    if (eth_ok) {
        memcpy(netif.hwaddr, mac_addr, 6);
        netif_add(&netif, &ip, &mask, &gw, NULL, lan9118_netif_init, ethernet_input);
        netif_set_default(&netif);
        netif_set_up(&netif);
        netif_set_link_up(&netif);
    } else {
        static const char nf[] = "!eth: LAN9118 not found\n";
        uart_write(nf, sizeof nf - 1);
    }

    struct listener *L;
    listen_open(7, M_ECHO, TCP_DEFAULT_LISTEN_BACKLOG, 1, &L);
    listen_open(9, M_DISCARD, TCP_DEFAULT_LISTEN_BACKLOG, 1, &L);
    udp_open(7, 1);

    l_begin(&evt_ln);
    l_s(&evt_ln, "EVT boot");
    hello_fields(&evt_ln);
    l_end(&evt_ln);

    for (;;) {
        g_wake_eth = 0;
        g_wake_tick = 0;
        if (eth_ok) {
            lan9118_poll(&netif);
        }
        sys_check_timeouts();
        console_poll();
        reap();
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i].type == OBJ_CONN && conns[i].pcb && !conns[i].closed &&
                (conns[i].send_remaining || conns[i].echo_q || conns[i].want_close ||
                 (conns[i].want_shutdown && !conns[i].shut_done))) {
                pump(&conns[i]);
            }
        }
        board_idle();
    }
}
