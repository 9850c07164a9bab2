#ifndef PACA_CCURL_SHIM_H
#define PACA_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
// call; these typed wrappers are the only way in.

static inline CURLcode paca_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode paca_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode paca_curl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*paca_curl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode paca_curl_easy_setopt_data_callback(CURL *handle, CURLoption option,
                                                           paca_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode paca_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode paca_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode paca_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode paca_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

// Macros Swift cannot import as typed constants.
static inline size_t paca_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline size_t paca_curl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
static inline size_t paca_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline int paca_curlpause_cont(void) { return CURLPAUSE_CONT; }

#endif
