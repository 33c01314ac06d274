/*
 * Tessera CRM native driver ABI, version 1.
 *
 * A driver is a shared library an operator installs to connect hardware that ships only a
 * native SDK (a caller-ID box, a PBX card) to the CRM. Tessera loads it at start
 * (`tessera serve --drivers drivers.toml`), checks tessera_driver_abi_version() first and
 * refuses a library built for another version, then calls tessera_driver_start().
 *
 * Between start and stop the driver calls host->report() from any thread, as often as calls
 * happen; the host copies what it needs before report() returns and never blocks in it.
 * When tessera_driver_stop() returns, the driver's threads have ended and it calls nothing of
 * the host's any more. Strings are NUL-terminated UTF-8.
 *
 * The Rust crate `tessera-driver-abi` (drivers/abi) declares the same types.
 */
#ifndef TESSERA_DRIVER_H
#define TESSERA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#define TESSERA_DRIVER_ABI_VERSION 1u

#define TESSERA_CALL_RINGING 1u  /* a call starts ringing at an extension */
#define TESSERA_CALL_ANSWERED 2u /* the call was picked up */
#define TESSERA_CALL_ENDED 3u    /* hung up, or given up while ringing (a missed call) */

#define TESSERA_LOG_ERROR 1
#define TESSERA_LOG_WARN 2
#define TESSERA_LOG_INFO 3

typedef struct TesseraCallEvent {
    uint32_t struct_size;   /* sizeof(TesseraCallEvent) as the driver was built */
    uint32_t state;         /* TESSERA_CALL_RINGING, _ANSWERED or _ENDED */
    const char *call_id;    /* the line's id for this call, the same in all its events; required */
    const char *caller;     /* the caller's number as the line reports it; may be NULL after ringing */
    const char *extension;  /* the extension or line that rings; may be NULL */
    int64_t at_ms;          /* milliseconds since the Unix epoch; 0 for now */
} TesseraCallEvent;

typedef void (*TesseraReportFn)(void *context, const TesseraCallEvent *event);
typedef void (*TesseraLogFn)(void *context, int32_t level, const char *message);

typedef struct TesseraHost {
    uint32_t struct_size;   /* sizeof(TesseraHost) as the host was built */
    void *context;          /* pass back as the first argument of report and log */
    TesseraReportFn report;
    TesseraLogFn log;
} TesseraHost;

/* Answers TESSERA_DRIVER_ABI_VERSION. */
uint32_t tessera_driver_abi_version(void);
/* A static name for logs, e.g. "fifo-caller-id". */
const char *tessera_driver_name(void);
/* Starts the driver with the operator's configuration string. Returns an opaque handle, or
 * NULL after writing a NUL-terminated reason (at most error_len bytes) into error. */
void *tessera_driver_start(const TesseraHost *host, const char *config, char *error, size_t error_len);
/* Stops the driver; afterwards it calls nothing of the host's. */
void tessera_driver_stop(void *driver);

#endif
