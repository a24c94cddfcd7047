# Gateway write path: PUT /v1/blobs encodes, stores slivers on every node,
# collects n - f confirmations and stores the certificate.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $json = JSON::PP->new;
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $n = $t->n;
my $f = $t->f;
my $dir = $t->dir;
my $ctl = "$WalrusTest::CTL -c $dir/committee.json";

sub put_blob {
    my ($body, $query, $headers) = @_;
    my $url = $t->gateway_url . '/v1/blobs' . ($query // '');
    my $res = $t->request('PUT', $url, $body, $headers);
    my $data = eval { $json->decode($res->{content}) };
    return ($res, $data);
}

sub created { $_[0] && $_[0]{newlyCreated}{blobObject} }

sub cert_verifies {
    my ($cert_b64, $id) = @_;
    WalrusTest::write_file("$dir/cert.bin", $P->can('unb64url')->($cert_b64));
    system("$ctl verify-cert --blob-id $id $dir/cert.bin > /dev/null");
    return $? == 0;
}

# the nodes that hold each part of the blob, as their status says
sub node_status {
    my ($i, $id) = @_;
    my $res = $t->node_request($i, 'GET', "/v1/blobs/$id/status");
    return eval { $json->decode($res->{content})->{success}{data} } // {};
}

# the gateway's location with these directives added
sub gateway {
    my ($directives) = @_;
    return <<"EOF";
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            $directives
        }
EOF
}

# --- all nodes up -----------------------------------------------------------

# blobs over 8 KiB are encoded in the thread pool, in parts that run at
# the same time
$t->write_config(gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_blob_size 200k;
            walrus_gateway_inline_size 8k;
        }
EOF

my $blob = join '', map { chr(($_ * 13 + 7) % 256) } 1 .. 3 * $S + 17;
my ($res, $data) = put_blob($blob);
is($res->{status}, 200, 'PUT /v1/blobs answers 200');
my $obj = created($data);
ok($obj, 'the answer is newlyCreated');
my $id = $obj->{blobId};
is($id, $t->cli_blob_id($blob), 'its blob ID is what walrusctl computes');
is($obj->{size}, length $blob, 'size');
is($obj->{encodingType}, 'RS2-GF8', 'encoding type');
is($obj->{certifiedEpoch}, 1, 'certified in the committee epoch');
is($obj->{storage}{endEpoch}, 2, 'one epoch by default');
ok($obj->{deletable}, 'deletable by default');
ok($data->{newlyCreated}{certificate}{weight} >= $n - $f,
   'the certificate reaches the quorum');
ok(cert_verifies($data->{newlyCreated}{certificate}{bytes}, $id),
   'the certificate verifies with walrusctl');

ok(eventually(sub {
       !grep { my $s = node_status($_, $id); !($s->{stored} && $s->{certified}) }
           0 .. $n - 1
   }, 5), 'every node holds its verified slivers and the certificate');

# Ed25519 signatures are deterministic: the harness's own registration
# (built from docs/protocol.md, signed by openssl) is the same bytes
my $raw = $P->can('unb64url')->($id);
my $reg = $t->registration($raw, length $blob);
ok(!grep({ (WalrusTest::read_file($t->store($_) . "/$id/registration") // '')
           ne $reg } 0 .. $n - 1),
   'every node keeps the gateway\'s registration: end epoch 2, deletable');

my $res2;
($res2, $data) = put_blob($blob);
ok($data && $data->{alreadyCertified}, 'the same blob again: alreadyCertified');
is($data->{alreadyCertified}{blobId}, $id, '... with its blob ID');
ok(cert_verifies($data->{alreadyCertified}{certificate}{bytes}, $id),
   '... and a certificate that verifies');

($res2, $data) = put_blob($blob, '?force=true&epochs=5&permanent=true');
$obj = created($data);
ok($obj, 'force=true stores it again as newlyCreated');
is($obj->{storage}{endEpoch}, 6, 'epochs=5 gives end epoch 6');
ok(!$obj->{deletable}, 'permanent=true is not deletable');
$reg = $t->registration($raw, length $blob, end_epoch => 6, deletable => 0);
ok(eventually(sub {
       (WalrusTest::read_file($t->store(0) . "/$id/registration") // '')
       eq $reg
   }, 5), '... and the nodes now keep it until epoch 6, permanent');

($res2, $data) = put_blob($blob, '?epochs=7&epochs=2');
is($data && $data->{alreadyCertified}{endEpoch}, 6,
   'alreadyCertified: the end epoch the nodes\' registrations hold (6), '
   . 'not the one asked for');
($res2, $data) = put_blob($blob, '?force=true&epochs=7&epochs=2');
is(created($data) && created($data)->{storage}{endEpoch}, 8,
   'a repeated parameter: the first one counts');

# a script publishes straight to the nodes, with a registration made by
# walrusctl with the publisher key, and the gateway serves the blob
my $sblob = join '', map { chr(($_ * 7 + 1) % 256) } 1 .. 2 * $S + 5;
WalrusTest::write_file("$dir/script.bin", $sblob);
my $sid = `$ctl register --key $dir/keys/gateway.key -o $dir/script.reg $dir/script.bin`;
chomp $sid;
is($sid, $t->cli_blob_id($sblob), 'walrusctl register gives the blob ID');
system("$ctl encode $dir/script.bin $dir/script > /dev/null") == 0
    or die 'encode';
my $sraw = $P->can('unb64url')->($sid);
my (@signers, @refused);
for my $i (0 .. $n - 1) {
    my $pair = WalrusTest::Proto::shard_to_pair($sraw, $n, $i);
    for my $part (['registration', 'script.reg'],
                  ['metadata', 'script/metadata'],
                  ["slivers/$pair/primary", "script/$pair.primary"],
                  ["slivers/$pair/secondary", "script/$pair.secondary"])
    {
        my $r = $t->node_request($i, 'PUT', "/v1/blobs/$sid/$part->[0]",
                                 WalrusTest::read_file("$dir/$part->[1]"));
        push @refused, "node$i $part->[0]: $r->{status}"
            if $r->{status} != 201;
    }
    my $c = eval { $json->decode($t->node_request($i, 'GET',
                       "/v1/blobs/$sid/confirmation")->{content}) };
    push @signers, [$i, $P->can('unb64url')->(
                            $c->{success}{data}{signed}{signature})] if $c;
}
is("@refused", '', 'the nodes store what the script sends');
is(scalar @signers, $n, '... and confirm it');
my $scert = WalrusTest::Proto::certificate(1, $sraw, @signers);
# 201, or 200 when the node's keeper already took it from a peer's record
like($t->node_request($_, 'PUT', "/v1/blobs/$sid/certificate", $scert)
     ->{status}, qr/^20[01]$/, "node$_ stores the script's certificate")
    for 0 .. $n - 1;
is(scalar(grep { (WalrusTest::read_file($t->store($_)
                                         . "/$sid/certificate") // '')
                 eq $scert } 0 .. $n - 1),
   $n, '... every node holds it, byte for byte');
$res2 = $t->request('GET', $t->gateway_url . "/v1/blobs/$sid");
blob_is($res2, $sblob, 'the gateway serves the blob the script published');

# sizes: empty, one byte, segment boundaries, several segments (encoded
# inline, then in parts)
for my $len (0, 1, $S - 1, $S, $S + 1, 5 * $S + 3, 37 * $S + 5) {
    my $content = join '', map { chr(($_ * 31 + $len) % 256) } 1 .. $len;
    ($res, $data) = put_blob($content);
    $obj = created($data);
    ok($obj && $obj->{blobId} eq $t->cli_blob_id($content)
       && $obj->{size} == $len,
       "a blob of $len bytes is stored under walrusctl's blob ID");
}

# chunked upload
my @chunks = map { 'chunk' x (100 * $_) } 1 .. 5;
my $whole = join '', @chunks;
my @queue = @chunks;
$res = $t->http->request('PUT', $t->gateway_url . '/v1/blobs',
                           { content => sub { shift @queue } });
$data = eval { $json->decode($res->{content}) };
ok(created($data) && created($data)->{blobId} eq $t->cli_blob_id($whole),
   'a chunked upload is stored under the right blob ID');

# bad input
($res, $data) = put_blob('x' x (200 * 1024 + 1));
is($res->{status}, 413, 'a body over the limit is refused with 413');
is(reason($res), 'BLOB_TOO_LARGE', '... BLOB_TOO_LARGE');

for my $q ('?epochs=0', '?epochs=abc', '?epochs=54', '?permanent=yes',
           '?deletable=true&permanent=true', '?color=blue', '?force',
           '?EPOCHS=2') {
    ($res, $data) = put_blob('abc', $q);
    is($res->{status}, 400, "bad parameters $q: 400");
    ok(reason($res), '... with a reason');
}

$res = $t->request('POST', $t->gateway_url . '/v1/blobs', 'abc');
is($res->{status}, 405, 'POST /v1/blobs: 405');

# 50 parallel uploads
my @kids;
for my $k (1 .. 50) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $content = "parallel upload $k " x (50 * $k);
        my ($r, $d) = put_blob($content);
        POSIX::_exit(created($d) && $r->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is($failed, 0, '50 parallel uploads all succeed');

$t->stop;

# --- f nodes down -------------------------------------------------------------

$t->write_config(gateway => gateway(''), down => [0 .. $f - 1])->run;
my $blob2 = 'f nodes down ' x 777;
($res, $data) = put_blob($blob2);
$obj = created($data);
ok($obj && $obj->{blobId} eq $t->cli_blob_id($blob2),
   "with $f nodes down the upload succeeds");
my %signers = map { $_ => 1 } @{$data->{newlyCreated}{certificate}{signers}};
ok(!grep({ $signers{"node$_"} } 0 .. $f - 1), '... without the down nodes');
$t->stop;

# --- f + 1 nodes down -----------------------------------------------------

$t->write_config(gateway => gateway(''), down => [0 .. $f])->run;
my $blob3 = 'f + 1 nodes down ' x 555;
($res, $data) = put_blob($blob3);
is($res->{status}, 504, "with f + 1 nodes down the upload fails with 504");
is(reason($res), 'INSUFFICIENT_CONFIRMATIONS',
   '... INSUFFICIENT_CONFIRMATIONS');
my $id3 = $t->cli_blob_id($blob3);
ok(!grep({ node_status($_, $id3)->{certified} } $f + 1 .. $n - 1),
   '... and no node holds a certificate');
$t->stop;

# --- one very slow node ---------------------------------------------------

$t->write_config(down => [3],
    main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
    http => <<'EOF', gateway => gateway('walrus_gateway_max_uploads 1;'))->run;
    server {
        listen 127.0.0.1:%%NODE_PORT_3%%;
        location / { echo_sleep 6; echo slow; }
    }
EOF
my $start = time;
($res, $data) = put_blob('slow node ' x 999);
my $elapsed = time - $start;
ok(created($data), 'with one node answering after 6 s the upload succeeds');
ok($elapsed < 3, sprintf('... in %.2f s, without waiting for it', $elapsed));

# the first upload still feeds the slow node, but holds no upload slot
($res, $data) = put_blob('no slot held ' x 99);
ok(created($data), 'an answered upload holds no upload slot');

# an upload whose body is still coming holds the only one
my $slow_client = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                        PeerPort => $t->gateway_port)
    or die "connect: $!";
print $slow_client "PUT /v1/blobs HTTP/1.1\r\nHost: gw\r\n"
    . "Content-Length: 100000\r\n\r\n" . ('x' x 1000);
sleep 0.3;
($res, $data) = put_blob('overload ' x 99);
is($res->{status}, 429, 'an upload over walrus_gateway_max_uploads: 429');
ok($res->{headers}{'retry-after'}, '... with Retry-After');
close $slow_client;
sleep 6.5;
$t->stop;

# --- f + 1 nodes that never answer: the deadline ---------------------------

my $hang = join '', map { <<"EOF" } 0 .. $f;
    server {
        listen 127.0.0.1:%%NODE_PORT_$_%%;
        location / { echo_sleep 20; echo late; }
    }
EOF
$t->write_config(down => [0 .. $f],
    main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
    http => $hang, gateway => gateway('walrus_gateway_timeout 1s;'))->run;
$start = time;
($res, $data) = put_blob('hanging nodes ' x 99);
$elapsed = time - $start;
is($res->{status}, 504, 'f + 1 nodes hanging: 504');
ok($elapsed < 2.5, sprintf('... after the 1 s deadline (%.2f s)', $elapsed));
$t->stop;

# --- one node with a bad confirmation signature --------------------------

my $bad_sig = 'A' x 86;
$t->write_config(gateway => gateway(''),
                 node_server_extra => { 2 => <<"EOF" })->run;
        location ~ /confirmation\$ {
            default_type application/json;
            return 200 '{"success":{"code":200,"data":{"signed":{"signature":"$bad_sig"}}}}';
        }
EOF
($res, $data) = put_blob('bad confirmation ' x 321);
ok(created($data), 'with one node signing badly the upload succeeds');
%signers = map { $_ => 1 } @{$data->{newlyCreated}{certificate}{signers}};
ok(!$signers{node2}, '... and its confirmation is not counted');
ok(keys %signers >= $n - $f, '... the others reach the quorum');
$t->stop;

# --- a client that goes away, an encoder that cannot write ------------------

# no spare files: every upload creates its parity file
$t->write_config(http => '    walrus_worker_spare_files 0;',
                 gateway => gateway('walrus_gateway_max_blob_size 200k; '
                                    . 'walrus_gateway_inline_size 8k;'))->run;

# the whole body arrives, the parts are queued, the client is gone
for my $k (1 .. 5) {
    my $body = "leaving $k " x 15000;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->gateway_port) or die;
    print $s "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    close $s;
}
sleep 0.5;
($res, $data) = put_blob('after the clients left ' x 700);
ok(created($data), 'clients that leave during encoding: a later upload '
                   . 'succeeds');

rmdir "$dir/tmp/walrus" or die "$dir/tmp/walrus: $!";
my $mark = $t->log_mark;
($res, $data) = put_blob('no place to encode ' x 700);
is($res->{status}, 500, 'no temporary directory for the encoder: 500');
is(reason($res), 'INTERNAL_ERROR',
   '... INTERNAL_ERROR');
like($t->log_since($mark), qr/cannot create a temp file/,
     '... and the log says why');
$t->stop;

# --- a full encoder queue -----------------------------------------------------

# one thread and a queue of one: an upload's second part rarely fits
$t->write_config(main => 'thread_pool tiny threads=1 max_queue=1;',
    gateway => gateway('walrus_gateway_inline_size 8k; '
                       . 'walrus_thread_pool tiny;'))->run;

# rounds of 10 uploads at once, until one was refused (the thread may
# take each first part off the queue in time)
my %exits;
for my $round (1 .. 10) {
    my @kids2;
    for my $k (1 .. 10) {
        my $pid = fork // die;
        if ($pid == 0) {
            my ($r, $d) = put_blob("queue $round $k " x 4000);
            my $reason = reason($r);
            POSIX::_exit($r->{status} == 200 ? 0
                         : $r->{status} == 429 && $reason eq 'OVERLOADED'
                         ? 1 : 2);
        }
        push @kids2, $pid;
    }
    for (@kids2) { waitpid $_, 0; $exits{$? >> 8}++ }
    last if $exits{1};
}
ok(!$exits{2}, 'with a full encoder queue every upload gets 200 or 429')
    or diag(explain \%exits);
ok($exits{1}, '... and some are refused with 429 OVERLOADED')
    or diag(explain \%exits);
($res, $data) = put_blob('after the queue was full ' x 400);
ok(created($data), '... and a later upload succeeds');
$t->stop;

done_testing();
