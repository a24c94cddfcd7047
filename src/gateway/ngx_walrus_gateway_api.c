/*
 * GET /v1/api: the OpenAPI document of the gateway's routes,
 * docs/openapi.yaml, built into the module by the assembler (the path
 * comes from the configure step), so that what the gateway serves is
 * the file the tests validate and nothing is read at run time.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_api_doc_path.h>


extern const u_char  ngx_walrus_api_doc[];
extern const u_char  ngx_walrus_api_doc_end[];


__asm__ (
    "    .section .rodata\n"
    "    .balign 16\n"
    "    .globl ngx_walrus_api_doc\n"
    "    .hidden ngx_walrus_api_doc\n"
    "ngx_walrus_api_doc:\n"
    "    .incbin \"" NGX_WALRUS_API_DOC_PATH "\"\n"
    "    .globl ngx_walrus_api_doc_end\n"
    "    .hidden ngx_walrus_api_doc_end\n"
    "ngx_walrus_api_doc_end:\n"
    "    .previous\n"
);


ngx_int_t
ngx_walrus_gateway_api(ngx_http_request_t *r)
{
    if (ngx_walrus_header(r, "Cache-Control", "no-cache") == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_memory(r, NGX_HTTP_OK, "application/yaml",
                                  (u_char *) ngx_walrus_api_doc,
                                  ngx_walrus_api_doc_end
                                  - ngx_walrus_api_doc);
}
