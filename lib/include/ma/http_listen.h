/*
 * http_listen.h - starts a libmicrohttpd daemon on one IPv4 address, the
 * way every program's /metrics, /health and /ready endpoint listens.
 *
 * Threads: the daemon runs its own polling thread and calls handler there.
 */
#ifndef MA_HTTP_LISTEN_H
#define MA_HTTP_LISTEN_H

#include <microhttpd.h>

#include "ma/status.h"

/*
 * Starts a daemon with handler on address:port and stores it in
 * *daemon_out (stop it with MHD_stop_daemon()).  Errors: MA_ERR_CONFIG when
 * address is not an IPv4 address, MA_ERR_IO when the port cannot be bound.
 */
ma_status_t ma_http_listen(const char *address, int port,
                           MHD_AccessHandlerCallback handler,
                           struct MHD_Daemon **daemon_out, ma_error_t *err);

#endif /* MA_HTTP_LISTEN_H */
