/*
 * common/limits.h — every cap of the project in one place (after jech/dht's DHT_MAX_*).
 * A table, queue or buffer that is not bounded by one of these is a bug.
 */
#ifndef CORDON_COMMON_LIMITS_H
#define CORDON_COMMON_LIMITS_H

/* Identities */
#define CORDON_NODE_ID_LEN 32      /* bytes in a node ID (256 bits) */
#define CORDON_SERIAL_LEN 16       /* bytes in a certificate serial number */
#define CORDON_OVERLAY_NAME_MAX 63 /* overlay names: [a-z0-9-], 1..63 chars */
#define CORDON_SIG_MAX 80          /* DER ECDSA P-256 (<= 72) or Ed25519 (64) */

/* Certificates, CSRs, CRLs */
#define CORDON_CSR_MAX 8192          /* PEM or DER CSR, bytes */
#define CORDON_CERT_MAX 8192         /* one certificate, PEM or DER */
#define CORDON_CHAIN_MAX 16384       /* PEM chain (leaf + CA) */
#define CORDON_KEY_FILE_MAX 16384    /* a private key file */
#define CORDON_CRL_MAX (1024 * 1024) /* CRL, PEM or DER */
#define CORDON_CRL_ENTRIES_MAX 20000 /* revoked serials in one CRL: fits CORDON_CRL_MAX as PEM */
#define CORDON_SERVER_NAMES_MAX 16   /* names in the enrollment server's certificate */
#define CORDON_SERVER_NAME_MAX 253

/* Enrollment tokens */
#define CORDON_TOKEN_BYTES 32 /* random bytes in a token */
#define CORDON_TOKEN_PREFIX "cdt_"
#define CORDON_TOKEN_TEXT_LEN (4 + 2 * CORDON_TOKEN_BYTES) /* prefix + hex */
#define CORDON_TOKEN_LABEL_MAX 128
#define CORDON_TOKEN_MAX_NODES 1000000

/* Overlay document */
#define CORDON_OVERLAY_DOC_MAX (64 * 1024)       /* the signed JSON document, bytes */
#define CORDON_OVERLAY_ENVELOPE_MAX (128 * 1024) /* the served envelope, bytes */
#define CORDON_BOOTSTRAP_MAX 64                  /* bootstrap peers in the document */
#define CORDON_ADDR_TEXT_MAX 64                  /* "[v6]:port" text */

/* Enrollment server */
#define CORDON_HTTP_BODY_MAX CORDON_CSR_MAX   /* POST /v1/enroll body */
#define CORDON_HTTP_CONN_MAX 256              /* concurrent connections */
#define CORDON_HTTP_CONN_PER_IP_MAX 64        /* concurrent connections from one address */
#define CORDON_HTTP_CONN_TIMEOUT 10           /* seconds a connection may sit idle */
#define CORDON_HTTP_THREADS 8                 /* worker threads */
#define CORDON_RATE_SOURCES_MAX 4096          /* source addresses tracked by the rate limiter */
#define CORDON_RATE_TOKENS_MAX 4096           /* tokens tracked by the rate limiter */
#define CORDON_RATE_RENEW_NODES_MAX 4096      /* nodes tracked by the renewal rate limiter */
#define CORDON_COMMIT_BATCH_MAX 256           /* issuances committed in one transaction */
#define CORDON_ISSUE_QUEUE_MAX 1024           /* issuances waiting for a commit */
#define CORDON_CERT_VALIDITY_MAX (30 * 86400) /* longest node certificate the signer signs */
#define CORDON_DB_MAP_SIZE (1024ULL * 1024 * 1024) /* LMDB map size of the enrollment db */

/* Signer channel (front <-> signer process) */
#define CORDON_IPC_MSG_MAX (CORDON_CRL_MAX + 4096)

/* Stored objects (wire/object.h, store/). Defaults of the store's configuration, then
 * hard caps that bound any configuration. */
#define CORDON_OBJECT_NAME_MAX 255          /* bytes of an object's name */
#define CORDON_OBJECT_VALUE_MAX (64 * 1024) /* bytes of one value, any kind (hard cap) */
#define CORDON_OBJECT_CERT_MAX 2048         /* the writer's DER certificate in an object */
#define CORDON_OBJECT_MAX                                                                          \
    (128 + CORDON_OVERLAY_NAME_MAX + CORDON_OBJECT_NAME_MAX + CORDON_OBJECT_VALUE_MAX +            \
     CORDON_OBJECT_CERT_MAX + CORDON_SIG_MAX)   /* one encoded object, bytes */
#define CORDON_OBJECT_CERT_CACHE 256            /* writers' certificates a verifier caches */
#define CORDON_OBJECT_CERT_CACHE_MAX 16384      /* hard cap of that cache (crypto/object.h) */
#define CORDON_OBJECT_SKEW_S 300                /* created_at may be this far in the future */
#define CORDON_OBJECT_LIFETIME_DEFAULT 86400    /* lifetime of a put without --ttl, seconds */
#define CORDON_OBJECT_LIFETIME_MAX (30 * 86400) /* longest lifetime (default of the overlay) */
#define CORDON_STORE_WRITER_OBJECTS 1000        /* objects one writer may hold on one node */
#define CORDON_STORE_WRITER_BYTES (16u * 1024 * 1024) /* bytes one writer may hold on one node */
#define CORDON_STORE_NODE_OBJECTS 100000              /* objects one node holds in all */
#define CORDON_STORE_NODE_BYTES (512u * 1024 * 1024)  /* bytes one node holds in all */
#define CORDON_STORE_MAP_SIZE (1024ULL * 1024 * 1024) /* LMDB map size of a peer's store */
#define CORDON_STORE_EXPIRE_BATCH 256                 /* objects one expiry step removes at most */
#define CORDON_PEER_MMAP_THRESHOLD (128 * 1024) /* cordon-peer: mallocs this large are mmaps */

/* Links: records and fragments (wire/frag.h). A record is the plaintext of one DTLS
 * record; a message larger than one record is cut into fragments and reassembled per
 * remote under the caps below. Layout and rules: docs/protocol.md, "Fragments".
 * A record fits the IPv6 minimum MTU without IP fragmentation: 1280 - 40 (IPv6) - 8 (UDP)
 * - 37 (DTLS 1.2 with AES-GCM, the largest AEAD overhead: 13 header + 8 nonce + 16 tag). */
#define CORDON_RECORD_MAX 1195           /* bytes of one record, fragment header included */
#define CORDON_FRAG_MSG_MAX (128 * 1024) /* one reassembled message (64 KiB values + certs) */
#define CORDON_FRAG_INFLIGHT_MAX 4       /* messages being reassembled per remote */
#define CORDON_FRAG_BUFFERED_MAX (2 * CORDON_FRAG_MSG_MAX) /* bytes reserved per remote */
#define CORDON_FRAG_TIMEOUT_MS 2000 /* from a message's first fragment to its last */
#define CORDON_FRAG_RETIRED_MAX 64  /* message ids remembered after completion or abandon */
#define CORDON_FRAG_PEER_BUFFERED_MAX (4 * 1024 * 1024) /* all remotes of one peer instance */

/* DTLS links (peer/link.c), per link table = per peer instance. A swarm runs 1000 tables
 * in one process, so the defaults stay small; the hard caps bound any configuration. */
#define CORDON_LINK_DATAGRAM_MAX 1232     /* UDP payload: IPv6 minimum MTU 1280 - 48 header bytes */
#define CORDON_LINK_PLAINTEXT_MAX 1195    /* per record: 1232 - 13 header - 8 nonce - 16 GCM tag */
#define CORDON_LINK_MAX 4096              /* links per table (hard cap) */
#define CORDON_LINK_HALF_OPEN_MAX 1024    /* links still handshaking (hard cap) */
#define CORDON_LINK_SESSIONS_MAX 1024     /* stored client sessions for resumption (hard cap) */
#define CORDON_LINK_CERTS_MEMO 1024       /* peer certificates remembered as verified */
#define CORDON_LINK_SESSION_DER_MAX 2048  /* a stored session, serialized (ours: ~1.5 KB) */
#define CORDON_LINK_PENDING_MAX 8192      /* bytes queued per link while it handshakes */
#define CORDON_LINK_RECORDS_PER_INPUT 64  /* records read out of one datagram */
#define CORDON_LINK_RATE_SOURCES 256      /* source IPs tracked by the handshake rate limiter */
#define CORDON_LINK_COOKIE_LEN 32         /* HMAC-SHA-256 cookie, bytes */
#define CORDON_LINK_COOKIE_EPOCH_MS 30000 /* a cookie is valid in its epoch and the next */
#define CORDON_LINK_SESSION_LIFETIME 3600 /* seconds a session (ticket) may be resumed */
/* Links kept (LRU). A node of a 512-node overlay that looks up many nodes links with most
 * of them: with 256, such a node evicted and re-handshook on every lookup (bench/swarm). */
#define CORDON_LINK_DEFAULT_MAX 1024
#define CORDON_LINK_DEFAULT_HALF_OPEN 32
#define CORDON_LINK_DEFAULT_SESSIONS 1024
/* An established link without traffic is closed after this. An open link end costs ~55 KB
 * of OpenSSL's buffers (18 KB less once quiet), a stored session ~1.6 KB and a resumed
 * handshake one round trip:
 * at 120 s, an idle 1,000-peer swarm held dozens of links per peer from bucket refreshes
 * alone (bench/README.md, bench/swarm). */
#define CORDON_LINK_DEFAULT_IDLE_MS 30000
/* An established link without traffic for this long gives its record buffers back
 * (SSL_free_buffers: the 16.7 KB read buffer and the 1.3 KB write buffer) until its next
 * record; an idle 1,000-peer swarm holds dozens of such links per peer (bench/swarm). */
#define CORDON_LINK_QUIET_MS 1000
/* An established link that has not been used again since it first went quiet closes after
 * this rather than the idle timeout (when shorter): in an idle overlay most links carry one
 * exchange (a lookup's FIND_NODE, a get's FETCH) and are not used again within the
 * timeout, and at 1,000 idle swarm peers such links, ~50 KB per end, were most of the
 * RSS left (bench/README.md, bench/swarm). A link used again after a quiet spell has shown
 * it is reused and keeps the whole idle timeout; one closed early costs a resumed handshake
 * when it is needed again. */
#define CORDON_LINK_BRIEF_IDLE_MS 10000
#define CORDON_LINK_DEFAULT_HANDSHAKE_MS 15000 /* handshake must complete within */
#define CORDON_LINK_DEFAULT_RATE 2.0           /* handshakes per second per source IP */
#define CORDON_LINK_DEFAULT_BURST 8.0

/* The runtime around one peer instance (peer/runtime.c). Its table of remotes (one
 * reassembler each) holds at most as many entries as the link table has links. */
#define CORDON_RT_DATAGRAMS_PER_HANDLE 256 /* datagrams read per handle(): instances take turns */
#define CORDON_RT_DEFERRED_MAX 256         /* link failures waiting to reach the core */
#define CORDON_RT_REMOTES_INITIAL 8        /* remote table entries before it grows */
#define CORDON_RT_SWEEP_MS 10000           /* remotes without a link are freed this often */
#define CORDON_RT_BOOTSTRAP_RETRY_MS 5000  /* after every bootstrap address failed */
#define CORDON_RT_EXPIRE_MS 5000           /* the store's expiry sweep runs this often... */
#define CORDON_RT_EXPIRE_BUSY_MS 50        /* ...and this soon again after a full batch */
/* The receive buffer a peer asks its UDP socket for: a burst of STOREs from a pipelining
 * writer (bench/storage) overflows the kernel's default 208 KiB (about 90 datagrams) long
 * before the peer is busy. The kernel caps it at net.core.rmem_max (docs/operations.md). */
#define CORDON_RT_RCVBUF (4 << 20)
/* Datagrams one recvmmsg() takes: a system call costs about as much as a DTLS record on a
 * virtual machine, and a burst of STOREs is hundreds of datagrams (19.7 KB of stack). */
#define CORDON_RT_RECV_BATCH 16
/* Datagrams a burst that carries STOREs reads at most, and STOREs one store batch (one
 * commit, one sync) takes at most (peer/runtime.c, read_socket). */
#define CORDON_RT_BATCH_MAX 1024
/* A peer stores at most this many bytes (its LMDB map is twice that, in address space). */
#define CORDON_RT_STORE_BYTES_MAX (64ULL << 30)
/* Control puts, gets and deletes held per instance: twice the control's slots, since
 * abandoned ones finish later. */
#define CORDON_RT_CTL_OBJECTS_MAX 16

/* Local control API (peer/control.c): HTTP on a unix socket (mode 0600) for the operator
 * and the `cordon` CLI. GET and HEAD only, so no request body is ever accepted; a lookup holds its
 * connection suspended until the overlay answers or CORDON_CONTROL_LOOKUP_TIMEOUT_MS. */
/* A put, get or delete must complete within this: a lookup, then r STOREs or FETCHes with
 * their retries. */
#define CORDON_CONTROL_OBJECT_TIMEOUT_MS 30000
#define CORDON_CONTROL_CONN_MAX 16                    /* concurrent connections */
#define CORDON_CONTROL_CONN_TIMEOUT 10                /* seconds a connection may sit idle */
#define CORDON_CONTROL_CONN_MEMORY (32 * 1024)        /* MHD memory pool per connection */
#define CORDON_CONTROL_LOOKUPS_MAX 8                  /* lookups in progress at once */
#define CORDON_CONTROL_LOOKUP_TIMEOUT_MS 10000        /* a lookup must complete within */
#define CORDON_CONTROL_LOOKUP_RESULTS_MAX 20          /* contacts in one lookup answer */
#define CORDON_CONTROL_PEERS_MAX 8192                 /* contacts listed by GET /v1/peers */
#define CORDON_CONTROL_COUNTERS_MAX 128               /* counters in one status */
#define CORDON_CONTROL_COUNTER_NAME_MAX 63            /* [a-z0-9_], 1..63 chars */
#define CORDON_CONTROL_RESPONSE_MAX (2 * 1024 * 1024) /* one response body, bytes */

#endif
