# TLS in production (docs/operations.md, "Production"): the recipes of
# conf.d/ run as they are shipped, with this test's ports and paths.
#
# HTTPS for clients (conf.d/gateway-https.conf): PUT, GET, Range, HEAD
# and 304 over HTTP/2, a blob of several MiB both ways byte for byte, and
# plain HTTP sent to HTTPS.  Mutual TLS between the gateway and the nodes
# and between peers (conf.d/gateway-mtls.conf, conf.d/node-mtls.conf,
# https:// committee URLs): the gateway stores and reads, a wiped node
# heals from its peers and audit rounds certify every node, all over
# mTLS; a client without a certificate, with one of another CA or an
# expired one is refused writes and peer routes (403 JSON) and served
# reads; walrusctl deletes over mTLS; a gateway that trusts another CA
# fails with its JSON errors and logs why; over plain HTTP, a node with
# walrus_node_client_cert on refuses every write.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $S = 65536;
my $t = WalrusTest->new(n => 4, segment_size => $S, scheme => 'https');
my ($n, $dir) = ($t->n, $t->dir);
my $ROOT = $WalrusTest::ROOT;
my $TLS = "$dir/tls";

# --- a test CA, another CA, and the certificates ------------------------------

sub openssl {
    my @args = @_;
    my ($rc, $out, $err) = WalrusTest::capture({ cwd => $TLS }, $dir,
                                               'openssl', @args);
    die "openssl @args: $err" if $rc;
    return $out;
}

# a key and a certificate request NAME.key, NAME.csr with subject CN
sub request {
    my ($name, $cn) = @_;
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-nodes', '-keyout', "$name.key", '-out', "$name.csr",
            '-subj', "/CN=$cn");
}

# NAME.crt signed by CA for 30 days with the extensions given
sub sign {
    my ($name, $ca, $ext) = @_;
    WalrusTest::write_file("$TLS/$name.ext", $ext);
    openssl('x509', '-req', '-in', "$name.csr", '-CA', "$ca.crt",
            '-CAkey', "$ca.key", '-CAcreateserial', '-days', 30,
            '-sha256', '-extfile', "$name.ext", '-out', "$name.crt");
}

mkdir $TLS or die "$TLS: $!";
for my $ca (qw(ca other-ca)) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-nodes', '-keyout', "$ca.key",
            '-out', "$ca.crt", '-days', 30, '-subj', "/CN=Walrus test $ca");
}

# nodes: their committee name and address, for both ends of a connection
for my $i (0 .. $n - 1) {
    request("node$i", "node$i");
    sign("node$i", 'ca', "subjectAltName=DNS:node$i,IP:127.0.0.1\n"
         . "extendedKeyUsage=serverAuth,clientAuth\n");
}

# the gateway: its client certificate to the nodes, its server
# certificate to clients; a client of another CA
request('gateway-client', 'gateway');
sign('gateway-client', 'ca', "extendedKeyUsage=clientAuth\n");
request('gateway', 'localhost');
sign('gateway', 'ca', "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
     . "extendedKeyUsage=serverAuth\n");
request('foreign', 'foreign');
sign('foreign', 'other-ca', "extendedKeyUsage=clientAuth\n");

# an expired one of the right CA (openssl ca takes dates in the past)
request('expired', 'expired');
mkdir "$TLS/db";
WalrusTest::write_file("$TLS/db/index", '');
WalrusTest::write_file("$TLS/db/serial", "1000\n");
WalrusTest::write_file("$TLS/ca.cnf", <<'EOF');
[ca]
default_ca = test
[test]
database = db/index
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile',
        'ca.key', '-in', 'expired.csr', '-out', 'expired.crt', '-notext',
        '-startdate', '20200101000000Z', '-enddate', '20200201000000Z');

# --- the recipes, with this test's ports and paths --------------------------

my $https_port = $t->gateway_port;
my $plain_port = WalrusTest::free_port();

sub recipe {
    my ($name) = @_;
    my $text = WalrusTest::read_file("$ROOT/conf.d/$name")
        // die "conf.d/$name: $!";
    $text =~ s{/etc/walrus/tls/}{$TLS/}g;
    $text =~ s{/etc/walrus/keys/}{$dir/keys/}g;
    $text =~ s{/etc/walrus/gateway\.key}{$dir/keys/gateway.key}g;
    $text =~ s{/var/lib/walrus/gateway_temp}{$dir/tmp/walrus}g;
    return $text;
}

# the server blocks of a recipe (its upstreams are the harness's)
sub servers {
    my ($text) = @_;
    return join "\n", $text =~ /^(server \{\n.*?\n\}\n)/msg;
}

sub location_of {
    my ($text, $path) = @_;
    my ($loc) = $text =~ /^( *location \Q$path\E \{\n.*?\n *\}\n)/ms
        or die "no location $path";
    return $loc;
}

# the gateway of gateway-https.conf, whose requests to the nodes go
# through the location of gateway-mtls.conf (with the CA the test names)
sub gateway_servers {
    my ($ca) = @_;
    my $text = servers(recipe('gateway-https.conf'));
    my $mtls = location_of(recipe('gateway-mtls.conf'), '/_walrus_node/');
    $mtls =~ s{\Q$TLS\E/ca\.crt}{$TLS/$ca.crt}g;
    $text =~ s{^ *location /_walrus_node/ \{\n.*?\n *\}\n}{$mtls}ms
        or die 'no node location in gateway-https.conf';
    $text =~ s/listen 80;/listen 127.0.0.1:$plain_port;/ or die 'no :80';
    $text =~ s/listen 443 ssl http2;/listen 127.0.0.1:$https_port ssl http2;/
        or die 'no :443';
    return $text;
}

# node i's server of node-mtls.conf, logging how each client connected
sub node_servers {
    my $text = servers(recipe('node-mtls.conf'));
    my ($all, $upstreams) = ('', '');
    for my $i (0 .. $n - 1) {
        my $port = $t->node_port($i);
        my $s = $text;
        $s =~ s{/var/lib/walrus/node0\.tmp}{$dir/tmp/node$i.body}g;
        $s =~ s{/var/lib/walrus/node0}{$dir/store$i}g;
        $s =~ s/\bnode0\b/node$i/g;
        # its peer calls through upstreams of its own: in one nginx,
        # locations proxying to one upstream share its keepalive
        # connections and TLS sessions, whose certificate is another's
        $s =~ s{https://walrus_\$walrus_node}{https://node${i}_to_\$walrus_node}
            or die 'no https proxy_pass';
        $upstreams .= join '', map {
            "    upstream node${i}_to_node$_ {\n        server 127.0.0.1:"
            . $t->node_port($_) . ";\n        keepalive 8;\n    }\n"
        } 0 .. $n - 1;
        my $listen = "listen 127.0.0.1:$port ssl;\n"
            . "    access_log $dir/logs/node$i.tls.log tls;";
        $s =~ s/listen 9100 ssl;/$listen/ or die 'no listen 9100 ssl';
        $all .= $s;
    }
    return $upstreams . $all;
}

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_node_audit_interval 3s;
    log_format tls '$ssl_protocol $ssl_client_verify "$ssl_client_s_dn" '
                   '$ssl_session_reused '
                   '$request_method $uri $status';
EOF

sub configure {
    my ($ca) = @_;
    $t->write_config(nodes => 0, http => $HTTP . gateway_servers($ca)
                                       . node_servers());
    diag(WalrusTest::read_file("$dir/nginx.conf")) if $ENV{WALRUS_SHOW};
}

# --- curl -------------------------------------------------------------------

# a request with curl: status, HTTP version, headers (lower case), body;
# options: http2, cert => NAME (client certificate), body => bytes,
# header => [..], cacert => file, range
my $calls = 0;
sub curl {
    my ($method, $url, %o) = @_;
    my $k = $calls++;
    my @cmd = ('curl', '-sS', '--max-time', 60, '-o', "$dir/curl$k.body",
               '-D', "$dir/curl$k.head", '-w', '%{http_code} %{http_version}',
               '--cacert', $o{cacert} // "$TLS/ca.crt",
               $o{http2} ? '--http2' : '--http1.1');
    push @cmd, '--cert', "$TLS/$o{cert}.crt", '--key', "$TLS/$o{cert}.key"
        if $o{cert};
    push @cmd, $method eq 'HEAD' ? ('-I') : ('-X', $method);
    if (defined $o{stream}) {
        # from a pipe: no Content-Length (HTTP/2 DATA frames, or chunked)
        WalrusTest::write_file("$dir/curl$k.in", $o{stream});
        push @cmd, '-T', '-', '-H', 'Content-Type: application/octet-stream';
    }
    if (defined $o{body}) {
        WalrusTest::write_file("$dir/curl$k.in", $o{body});
        push @cmd, '--data-binary', "\@$dir/curl$k.in",
            '-H', 'Content-Type: application/octet-stream';
    }
    push @cmd, map { ('-H', $_) } @{$o{header} // []};
    push @cmd, $url;

    my ($rc, $out, $err) = WalrusTest::capture(
        { stdin => defined $o{stream} ? "$dir/curl$k.in" : undef }, $dir,
        @cmd);
    my ($status, $version) = split / /, $out;
    my %h;
    for (split /\r\n/, WalrusTest::read_file("$dir/curl$k.head") // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $body = WalrusTest::read_file("$dir/curl$k.body") // '';
    unlink "$dir/curl$k.body", "$dir/curl$k.head", "$dir/curl$k.in";
    return { rc => $rc, err => $err, status => $status // 0,
             version => $version // '', headers => \%h, content => $body };
}

my $GW = "https://127.0.0.1:$https_port";
sub node { "https://127.0.0.1:" . $t->node_port($_[0]) }

sub error_reason {
    my ($res) = @_;
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    return $d->{error}{details}[0]{reason} // '';
}

sub error_message {
    my ($res) = @_;
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    return $d->{error}{message} // '';
}

# --- HTTPS and HTTP/2 for clients -------------------------------------------

configure('ca');
$t->run;
ok(WalrusTest::eventually(sub { curl('GET', "$GW/status")->{status} == 200 },
                          10), 'the gateway answers over HTTPS');

my $small = WalrusTest::blob_of(5000, 3);
my $res = curl('PUT', "$GW/v1/blobs", body => $small, http2 => 1);
is($res->{version}, '2', 'PUT over HTTP/2');
my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
my $small_id = $d->{newlyCreated}{blobObject}{blobId} // '';
is($small_id, $t->encode($small),
   'the gateway stored it through nodes over mutual TLS')
    or diag($res->{content});

my $big = WalrusTest::pattern_blob(6 * 1024 * 1024 + 4, 7);
$res = curl('PUT', "$GW/v1/blobs", body => $big, http2 => 1);
$d = eval { JSON::PP->new->decode($res->{content}) } || {};
my $big_id = $d->{newlyCreated}{blobObject}{blobId} // '';
is($big_id, $t->encode($big), 'a 6 MiB PUT over HTTP/2')
    or diag($res->{content});

my $streamed = WalrusTest::pattern_blob(700 * 1024, 11);
$res = curl('PUT', "$GW/v1/blobs", stream => $streamed, http2 => 1);
$d = eval { JSON::PP->new->decode($res->{content}) } || {};
is($d->{newlyCreated}{blobObject}{blobId} // '', $t->encode($streamed),
   'a PUT over HTTP/2 without Content-Length') or diag($res->{content});

$res = curl('GET', "$GW/v1/blobs/$big_id", http2 => 1);
is($res->{version}, '2', 'GET over HTTP/2');
is($res->{status}, 200, '... 200');
ok($res->{content} eq $big, '... the 6 MiB, byte for byte');
is($res->{headers}{'strict-transport-security'}, 'max-age=31536000',
   '... with HSTS');

# six reads at once: more connections to each node than the gateway
# keeps, opened resuming its TLS session (checked in the nodes' logs)
my ($prc, undef, $perr) = WalrusTest::capture({}, $dir, 'curl', '-sS',
    '-Z', '--http2', '--cacert', "$TLS/ca.crt", '-w', '%{http_code}\n',
    map { ('-o', '/dev/null', "$GW/v1/blobs/$big_id") } 1 .. 6);
is($prc, 0, 'six reads at once over HTTP/2') or diag($perr);

$res = curl('GET', "$GW/v1/blobs/$big_id", http2 => 1,
            header => ['Range: bytes=3000000-3000099']);
is($res->{status}, 206, 'a Range over HTTP/2: 206');
is($res->{headers}{'content-range'}, 'bytes 3000000-3000099/'
   . length($big), '... its Content-Range');
ok($res->{content} eq substr($big, 3000000, 100), '... the 100 bytes exactly');

$res = curl('HEAD', "$GW/v1/blobs/$small_id", http2 => 1);
is($res->{status}, 200, 'HEAD over HTTP/2');
is($res->{headers}{'content-length'}, length $small, '... its length');

$res = curl('GET', "$GW/v1/blobs/$small_id", http2 => 1,
            header => ["If-None-Match: \"$small_id\""]);
is($res->{status}, 304, 'If-None-Match over HTTP/2: 304');

$res = curl('GET', "$GW/v1/blobs/$small_id", http2 => 1,
            cacert => "$TLS/other-ca.crt");
isnt($res->{rc}, 0, 'a client trusting another CA does not accept it');

$res = curl('PUT', "http://127.0.0.1:$plain_port/v1/blobs?epochs=2",
            body => 'x');
is($res->{status}, 308, 'plain HTTP: 308 to HTTPS');
like($res->{headers}{location} // '',
     qr{^https://127\.0\.0\.1(:\d+)?/v1/blobs\?epochs=2$},
     '... same path and query');

$res = curl('GET', "http://127.0.0.1:$https_port/v1/blobs/$small_id");
is($res->{status}, 308, 'plain HTTP to the HTTPS port: 308');
is($res->{headers}{location} // '',
   "https://127.0.0.1:$https_port/v1/blobs/$small_id", '... to HTTPS');

# --- mutual TLS: who may write ----------------------------------------------

my $reg = "$dir/reg.bin";
WalrusTest::write_file($reg, $t->registration(
    WalrusTest::Proto::unb64url($small_id), length $small));
my $regbytes = WalrusTest::read_file($reg);

my %client = (none => undef, foreign => 'foreign', expired => 'expired');
for my $who (sort keys %client) {
    my %c = defined $client{$who} ? (cert => $client{$who}) : ();
    my $node = node(1);

    $res = curl('GET', "$node/v1/blobs/$small_id/metadata", %c);
    is($res->{status}, 200, "client with $who certificate: a read served");

    $res = curl('PUT', "$node/v1/blobs/$small_id/registration",
                body => $regbytes, %c);
    is($res->{status}, 403, "... a write refused: 403");
    is($res->{headers}{'content-type'}, 'application/json', '... JSON');
    is(error_reason($res), 'CLIENT_CERTIFICATE_REQUIRED', '... its reason');
    my $why = { none => qr/the client's: NONE/,
                foreign => qr/FAILED:unable to verify the first certificate/,
                expired => qr/FAILED:certificate has expired/ }->{$who};
    like(error_message($res), $why, '... its message says why')
        or diag($res->{content});

    for my $path ("/v1/blobs/$small_id/confirmation", '/v1/certified',
                  "/v1/blobs/$small_id/recovery/0")
    {
        $res = curl('GET', "$node$path", %c);
        is($res->{status} . ' ' . error_reason($res),
           '403 CLIENT_CERTIFICATE_REQUIRED', "... a peer route: GET $path");
    }
}

(my $node_plain = node(1)) =~ s/^https:/http:/;
$res = curl('GET', "$node_plain/v1/health");
is($res->{status} . ' ' . error_reason($res), '400 HTTPS_REQUIRED',
   'plain HTTP to a node: 400 HTTPS_REQUIRED');
is($res->{headers}{'content-type'}, 'application/json', '... JSON');

$res = curl('PUT', node(1) . "/v1/blobs/$small_id/registration",
            body => $regbytes, cert => 'gateway-client');
ok($res->{status} == 200 || $res->{status} == 201,
   'a client with a certificate of the CA writes') or diag($res->{content});
$res = curl('GET', node(1) . "/v1/blobs/$small_id/confirmation",
            cert => 'gateway-client');
is($res->{status}, 200, '... and gets a confirmation');

# --- peers over mutual TLS: healing, record sync, audits --------------------

my $mark = $t->log_mark;
WalrusTest::wipe($t->store(2));
ok(WalrusTest::eventually(sub {
       $t->holds(2, $small_id) && $t->holds(2, $big_id) }, 30),
   'a wiped node gets every blob back from its peers over mTLS')
    or diag($t->log_since($mark));
like($t->log_since($mark), qr/learned \d+ certified blobs from peer/,
     '... learning them from their records');

my $tls_log = WalrusTest::read_file("$dir/logs/node0.tls.log") // '';
like($tls_log, qr{^TLSv1\.3 SUCCESS "CN=node2" [.r] GET /v1/certified 200$}m,
     'node 2 read the record of node 0 with its certificate');
like($tls_log,
     qr{^TLSv1\.3 SUCCESS "CN=node2" [.r] GET /v1/blobs/\S+/recovery/\d+ 200$}m,
     '... and recovery symbols');
like($tls_log,
     qr{^TLSv1\.3 SUCCESS "CN=gateway" [.r] PUT /v1/blobs/\S+/metadata 20\d$}m,
     'the gateway wrote with its certificate');
my $all_logs = join '', map {
    WalrusTest::read_file("$dir/logs/node$_.tls.log") // ''
} 0 .. $n - 1;
like($all_logs, qr{^TLSv1\.3 SUCCESS "CN=gateway" r }m,
   'the gateway resumed its TLS sessions on new connections to nodes')
    or diag(join '', grep { /CN=gateway/ } split /^/, $all_logs);
unlike($tls_log, qr{SUCCESS \S+ [.r] \S+ \S+ 403$}m,
       'no peer or gateway request was refused');

ok(WalrusTest::eventually(sub {
       !grep { !glob($t->store($_) . '/audit/rounds/*/certificate') }
       0 .. $n - 1 }, 60),
   'audit rounds certify every node: signatures, answers and attestations '
   . 'over mTLS')
    or diag(join "\n", grep { /audit/ } split /\n/, $t->log_since($mark));

# --- walrusctl over mTLS ----------------------------------------------------

my @ctl = ($WalrusTest::CTL, '-c', $t->committee, 'delete', '--key',
           "$dir/keys/gateway.key", $small_id);
my ($rc, $out, $err) = WalrusTest::capture({}, $dir, 'env',
    "WALRUS_TLS_CA=$TLS/ca.crt", @ctl);
isnt($rc, 0, 'walrusctl delete without a client certificate fails');
like($err, qr/node0: the node answered 403: .*client certificate/,
     '... the nodes say why');

($rc, $out, $err) = WalrusTest::capture({}, $dir, 'env',
    "WALRUS_TLS_CA=$TLS/ca.crt", "WALRUS_TLS_CERT=$TLS/gateway-client.crt",
    "WALRUS_TLS_KEY=$TLS/gateway-client.key", @ctl);
is($rc, 0, 'walrusctl delete with the client certificate') or diag($err);
is(scalar(() = $out =~ /^node\d: deleted$/mg), $n, '... every node deleted');

# --- a gateway that trusts another CA ---------------------------------------

$t->stop;
configure('other-ca');
$t->run;
ok(WalrusTest::eventually(sub { curl('GET', "$GW/status")->{status} == 200 },
                          10), 'a gateway trusting another CA starts');
$mark = $t->log_mark;

$res = curl('GET', "$GW/v1/blobs/$big_id", http2 => 1);
is($res->{headers}{'content-type'}, 'application/json',
   'its read fails with a JSON error') or diag($res->{content});
ok($res->{status} >= 500 && error_reason($res) ne '',
   "... $res->{status} " . error_reason($res));

$res = curl('PUT', "$GW/v1/blobs", body => WalrusTest::blob_of(3000, 9),
            http2 => 1);
is($res->{headers}{'content-type'}, 'application/json',
   'its write fails with a JSON error');
ok($res->{status} >= 500 && error_reason($res) ne '',
   "... $res->{status} " . error_reason($res));
like($t->log_since($mark), qr/upstream SSL certificate verify error/,
     'the log says the nodes\' certificates did not verify');

$t->stop;

# --- walrus_node_client_cert over plain HTTP --------------------------------

# the harness's nodes, listening without ssl, each location with
#
#     walrus_node_client_cert on;
$t->write_config(node_extra => 'walrus_node_client_cert on;')->run;
my $plain = 'http://127.0.0.1:' . $t->node_port(1);
$res = curl('PUT', "$plain/v1/blobs/$big_id/registration", body => $regbytes);
is($res->{status} . ' ' . error_reason($res),
   '403 CLIENT_CERTIFICATE_REQUIRED', 'over plain HTTP every write is refused');
like(error_message($res), qr/the client's: NONE \(not TLS\)/,
     '... saying it came without TLS');
$res = curl('GET', "$plain/v1/blobs/$big_id/metadata");
is($res->{status}, 200, '... reads are served');
$t->stop;

done_testing();
