/*
 * http_listen.c - the shared start of the programs' metrics endpoints.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "ma/http_listen.h"

ma_status_t ma_http_listen(const char *address, int port,
                           MHD_AccessHandlerCallback handler,
                           struct MHD_Daemon **daemon_out, ma_error_t *err)
{
        struct sockaddr_in addr;

        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, address, &addr.sin_addr) != 1)
                return ma_error_set(err, MA_ERR_CONFIG, "metrics.address",
                                    "invalid metrics address \"%s\": expected "
                                    "an IPv4 address such as 127.0.0.1",
                                    address);
        *daemon_out = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_END);
        if (*daemon_out == NULL)
                return ma_error_set(err, MA_ERR_IO, "metrics.port",
                                    "could not listen on %s:%d for metrics; "
                                    "choose a free port with --metrics.port",
                                    address, port);
        return MA_OK;
}
