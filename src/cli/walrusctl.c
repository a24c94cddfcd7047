/*
 * walrusctl: command line parsing, dispatch and usage.
 */

#include <stdlib.h>
#include <string.h>

#include <walrusctl.h>
#include <walrus_sha256.h>


typedef struct {
    const char   *name;
    int           nargs;        /* -k: at least k */
    int           options;      /* WALRUS_CLI_OPT_* */
    int         (*handler)(walrus_cli_t *cli);
    const char   *args;
} walrus_cli_command_t;


static void walrus_cli_usage(FILE *out);
static int walrus_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int walrus_cli_options(walrus_cli_t *cli,
    const walrus_cli_command_t *cmd, int argc, char **argv);
static int walrus_cli_option(const char *name, int *i, int argc,
    char **argv, const char **value);
static int walrus_cli_flush(void);
static int walrus_cli_self_test(walrus_cli_t *cli);


static const walrus_cli_command_t  walrus_cli_commands[] = {

    { "blob-id", 1, 0, walrus_cli_blob_id, "FILE" },
    { "encode", 2, 0, walrus_cli_encode, "FILE DIR" },
    { "decode", 2, 1, walrus_cli_decode, "[--blob-id ID] DIR FILE" },
    { "keygen", 1, 0, walrus_cli_keygen, "NAME" },
    { "verify-cert", 1, 1, walrus_cli_verify_cert,
      "[--blob-id ID] CERT" },
    { "register", 1, WALRUS_CLI_OPT_REGISTER, walrus_cli_register,
      "--key KEY [--epochs N] [--permanent] [-o OUT] FILE" },
    { "delete", 1, WALRUS_CLI_OPT_REGISTER, walrus_cli_delete,
      "--key KEY [-o OUT] ID" },
    { "record", 1, WALRUS_CLI_OPT_RECORD, walrus_cli_record,
      "[--after CURSOR] FILE" },
    { "rebuild", -3, WALRUS_CLI_OPT_BLOB_ID, walrus_cli_rebuild,
      "[--blob-id ID] METADATA DIR ANSWER..." },
    { "quilt", -2, 0, walrus_cli_quilt, "OUT NAME=FILE[;type=TYPE]..." },
    { "verify-inconsistency", 1, 0, walrus_cli_verify_inconsistency,
      "PROOF" },
    { "verify-audit", 1, 0, walrus_cli_verify_audit, "FILE" },
    { "verify-ready", 1, 0, walrus_cli_verify_ready, "FILE" },
    { "audit", 1, WALRUS_CLI_OPT_AUDIT, walrus_cli_audit,
      "[--round R] [--blobs ID,...] [--record-from NODE] "
      "[--fraud-out FILE] NODE" },
    { "self-test", 0, 0, walrus_cli_self_test, "no arguments" },
    { NULL, 0, 0, NULL, NULL }
};


int
main(int argc, char **argv)
{
    int                          i, rc;
    const char                  *env;
    walrus_cli_t                 cli;
    const walrus_cli_command_t  *cmd;

    memset(&cli, 0, sizeof(walrus_cli_t));

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            walrus_cli_usage(stdout);
            return walrus_cli_flush();
        }

        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--committee") == 0)
        {
            if (++i == argc) {
                return walrus_cli_usage_error("%s needs a file or a "
                                              "directory", argv[i - 1]);
            }

            cli.committee = argv[i];
            cli.committee_given = 1;
            continue;
        }

        if (strncmp(argv[i], "--committee=", 12) == 0) {
            cli.committee = argv[i] + 12;
            cli.committee_given = 1;
            continue;
        }

        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }

        return walrus_cli_usage_error("unknown option \"%s\"", argv[i]);
    }

    if (i == argc) {
        return walrus_cli_usage_error("no command given");
    }

    if (strcmp(argv[i], "help") == 0) {
        walrus_cli_usage(stdout);
        return walrus_cli_flush();
    }

    for (cmd = walrus_cli_commands; cmd->name != NULL; cmd++) {
        if (strcmp(argv[i], cmd->name) == 0) {
            break;
        }
    }

    if (cmd->name == NULL) {
        return walrus_cli_usage_error("unknown command \"%s\"", argv[i]);
    }

    rc = walrus_cli_options(&cli, cmd, argc - i - 1, argv + i + 1);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    if (cli.committee == NULL) {
        env = getenv(WALRUS_CLI_COMMITTEE_ENV);
        cli.committee_given = (env != NULL && env[0] != '\0');
        cli.committee = cli.committee_given ? env
                                            : WALRUS_CLI_COMMITTEE_DEFAULT;
    }

    rc = cmd->handler(&cli);

    if (walrus_cli_flush() != WALRUS_CLI_OK && rc == WALRUS_CLI_OK) {
        rc = WALRUS_CLI_IO;
    }

    return rc;
}


/* moves the operands to the front of argv and checks their number */

static int
walrus_cli_options(walrus_cli_t *cli, const walrus_cli_command_t *cmd,
    int argc, char **argv)
{
    int  i, rc, nops, options;

    nops = 0;
    options = 1;

    for (i = 0; i < argc; i++) {

        if (options && strcmp(argv[i], "--") == 0) {
            options = 0;
            continue;
        }

        if (options && (cmd->options & WALRUS_CLI_OPT_BLOB_ID)
            && strcmp(argv[i], "--blob-id") == 0)
        {
            if (++i == argc) {
                return walrus_cli_usage_error("--blob-id needs an ID");
            }

            cli->blob_id = argv[i];
            continue;
        }

        if (options && (cmd->options & WALRUS_CLI_OPT_BLOB_ID)
            && strncmp(argv[i], "--blob-id=", 10) == 0)
        {
            cli->blob_id = argv[i] + 10;
            continue;
        }

        if (options && (cmd->options & WALRUS_CLI_OPT_AUDIT)) {
            rc = walrus_cli_option("--round", &i, argc, argv, &cli->round);

            if (rc == 0) {
                rc = walrus_cli_option("--blobs", &i, argc, argv,
                                       &cli->blobs);
            }

            if (rc == 0) {
                rc = walrus_cli_option("--fraud-out", &i, argc, argv,
                                       &cli->fraud_out);
            }

            if (rc == 0) {
                rc = walrus_cli_option("--record-from", &i, argc, argv,
                                       &cli->record_from);
            }

            if (rc == -1) {
                return WALRUS_CLI_USAGE;
            }

            if (rc == 1) {
                continue;
            }
        }

        if (options && (cmd->options & WALRUS_CLI_OPT_RECORD)) {
            rc = walrus_cli_option("--after", &i, argc, argv, &cli->after);

            if (rc == -1) {
                return WALRUS_CLI_USAGE;
            }

            if (rc == 1) {
                continue;
            }
        }

        if (options) {
            rc = walrus_cli_option("-c", &i, argc, argv, &cli->committee);

            if (rc == 0) {
                rc = walrus_cli_option("--committee", &i, argc, argv,
                                       &cli->committee);
            }

            if (rc == -1) {
                return WALRUS_CLI_USAGE;
            }

            if (rc == 1) {
                cli->committee_given = 1;
                continue;
            }
        }

        if (options && (cmd->options & WALRUS_CLI_OPT_REGISTER)) {
            rc = walrus_cli_option("--key", &i, argc, argv, &cli->key);

            if (rc == 0) {
                rc = walrus_cli_option("--epochs", &i, argc, argv,
                                       &cli->epochs);
            }

            if (rc == 0) {
                rc = walrus_cli_option("-o", &i, argc, argv, &cli->output);
            }

            if (rc == 0) {
                rc = walrus_cli_option("--output", &i, argc, argv,
                                       &cli->output);
            }

            if (rc == -1) {
                return WALRUS_CLI_USAGE;
            }

            if (rc == 1) {
                continue;
            }

            if (strcmp(argv[i], "--permanent") == 0) {
                cli->permanent = 1;
                continue;
            }

            if (strcmp(argv[i], "--deletable") == 0) {
                cli->deletable = 1;
                continue;
            }
        }

        if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
            return walrus_cli_usage_error("%s: unknown option \"%s\"",
                                          cmd->name, argv[i]);
        }

        argv[nops++] = argv[i];
    }

    if (cmd->nargs >= 0 ? nops != cmd->nargs : nops < -cmd->nargs) {
        return walrus_cli_usage_error("%s expects %s", cmd->name,
                                      cmd->args);
    }

    cli->argc = nops;
    cli->argv = argv;

    return WALRUS_CLI_OK;
}


/*
 * "NAME VALUE" or "NAME=VALUE": 1 when argv[*i] is that option, 0 when it
 * is not, -1 (with a message) when its value is missing
 */

static int
walrus_cli_option(const char *name, int *i, int argc, char **argv,
    const char **value)
{
    size_t  len;

    len = strlen(name);

    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 == argc) {
            walrus_cli_usage_error("%s needs a value", name);
            return -1;
        }

        *value = argv[++*i];
        return 1;
    }

    if (strncmp(argv[*i], name, len) == 0 && argv[*i][len] == '=') {
        *value = argv[*i] + len + 1;
        return 1;
    }

    return 0;
}


static int
walrus_cli_usage_error(const char *fmt, ...)
{
    va_list  args;

    fputs("walrusctl: ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputs("\n\n", stderr);

    walrus_cli_usage(stderr);

    return WALRUS_CLI_USAGE;
}


static void
walrus_cli_usage(FILE *out)
{
    fputs("usage: walrusctl [-c COMMITTEE] COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  blob-id FILE                     print the blob ID of FILE "
          "(\"-\": stdin)\n"
          "  encode FILE DIR                  encode FILE into DIR/metadata, "
          "DIR/blob-id\n"
          "                                   and K.primary, K.secondary "
          "per pair K\n"
          "  decode [--blob-id ID] DIR FILE   rebuild FILE (\"-\": stdout) "
          "from DIR,\n"
          "                                   verifying every sliver used\n"
          "  keygen NAME                      write a new Ed25519 key pair "
          "NAME.key\n"
          "                                   (private) and NAME.pub "
          "(public)\n"
          "  verify-cert [--blob-id ID] CERT  verify a certificate, binary "
          "or base64url,\n"
          "                                   against the committee of its "
          "epoch\n"
          "  register --key KEY [--epochs N] [--permanent] [-o OUT] FILE\n"
          "                                   sign a registration of FILE "
          "with the publisher\n"
          "                                   key KEY, for N epochs (1); "
          "binary into OUT\n"
          "                                   and the blob ID on stdout, "
          "else base64url\n"
          "  delete --key KEY [-o OUT] ID     delete a deletable blob: "
          "sign the deletion\n"
          "                                   with the key KEY that "
          "registered it and\n"
          "                                   send it to every node (or "
          "write it into OUT)\n"
          "  record [--after CURSOR] FILE     print the entries of a "
          "node's record of\n"
          "                                   certified blobs: its file, "
          "or a listing\n"
          "                                   (\"-\": stdin) whose first "
          "entry is at CURSOR\n"
          "                                   (32); with -c or $"
          WALRUS_CLI_COMMITTEE_ENV "\n"
          "                                   verify each\n"
          "  quilt OUT NAME=FILE[;type=TYPE]...\n"
          "                                   write the quilt a gateway "
          "builds of these\n"
          "                                   files (_metadata=FILE: tags); "
          "blob-id OUT\n"
          "                                   is its quilt ID\n"
          "  rebuild [--blob-id ID] METADATA DIR ANSWER...\n"
          "                                   rebuild the slivers of a pair "
          "from recovery\n"
          "                                   answers into DIR/K.primary, "
          "DIR/K.secondary,\n"
          "                                   or write the proof "
          "DIR/K.inconsistency\n"
          "  verify-inconsistency PROOF       check an inconsistency proof "
          "offline; print\n"
          "                                   its blob ID\n"
          "  verify-audit FILE                check a beacon, an audit "
          "certificate or a\n"
          "                                   fraud proof of a storage audit "
          "offline; print\n"
          "                                   what it is, its node and round\n"
          "  verify-ready FILE                check a node's readiness for an "
          "epoch\n"
          "                                   (GET /v1/epoch/ready) against "
          "that epoch's\n"
          "                                   committee\n"
          "  audit [--round R] [--blobs ID,...] [--record-from NODE2]\n"
          "        [--fraud-out FILE] NODE    challenge committee node NODE: "
          "its beacon\n"
          "                                   (latest, or of round R), the "
          "blobs it\n"
          "                                   promised in its record (or "
          "NODE2's, or\n"
          "                                   --blobs), its signed answer; "
          "print a verdict\n"
          "                                   per blob and passed, missing "
          "or fraud;\n"
          "                                   a fraud's proof into FILE\n"
          "  self-test                        check the leaf hashing against "
          "OpenSSL and\n"
          "                                   print which engine runs\n"
          "  help                             print this text\n"
          "\n"
          "options:\n"
          "  -c COMMITTEE   committee file, or a directory of one per epoch "
          "(EPOCH.json),\n"
          "                 before or after the command; default $"
          WALRUS_CLI_COMMITTEE_ENV ",\n"
          "                 else ./" WALRUS_CLI_COMMITTEE_DEFAULT "; "
          "certificates are checked against\n"
          "                 the committee of their epoch, the rest uses the "
          "newest\n"
          "  --blob-id ID   fail unless the metadata or the certificate is "
          "for blob ID\n"
          "  -h, --help     print this text\n"
          "\n"
          "environment (https:// node URLs):\n"
          "  " WALRUS_CLI_TLS_CA_ENV "     the CA file node certificates "
          "must chain to (default:\n"
          "                  the system's)\n"
          "  " WALRUS_CLI_TLS_CERT_ENV "   the client certificate (PEM) "
          "for nodes that want one\n"
          "                  (walrus_node_client_cert): delete, audit\n"
          "  " WALRUS_CLI_TLS_KEY_ENV "    its key (default: in "
          WALRUS_CLI_TLS_CERT_ENV ")\n"
          "\n"
          "exit status: 0 success, 1 the data did not verify, 2 usage "
          "error,\n"
          "3 I/O error or invalid committee or metadata file\n", out);
}


/*
 * The same self-test every process runs before it hashes a batch of
 * leaves: 1 when the multi-buffer path disagrees with OpenSSL (it is then
 * disabled, the results stay right), 0 otherwise.
 */

static int
walrus_cli_self_test(walrus_cli_t *cli)
{
    int  rc;

    rc = walrus_sha256_self_test();

    printf("%s\n", walrus_sha256_engine());

    return rc == WALRUS_ECRYPTO ? WALRUS_CLI_INVALID : WALRUS_CLI_OK;
}


static int
walrus_cli_flush(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        walrus_cli_error("stdout: write error");
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}
