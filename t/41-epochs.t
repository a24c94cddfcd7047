# The committee history in the gateway and the nodes (docs/protocol.md
# section 18): walrus_committee names a directory of <epoch>.json files.
# Seven nodes and a gateway start on epoch 1 and store blobs; epoch 2
# replaces node 3's key and is loaded with a reload.  Certificates of
# epoch 1 still verify (against epoch 1, whose node 3 had the old key)
# from the nodes, from Redis and in the nodes' record sync; new blobs get
# certificates of epoch 2; a node refuses a certificate of an epoch its
# history lacks with 409 UNKNOWN_EPOCH; a reload onto a broken directory
# fails with the loader's message and the old workers keep serving.
# Epoch 3 lists the same nodes in the opposite order: each certificate's
# signers are still named by the node list of its own epoch.  A node whose
# history lacks the newest epoch waits at such an entry of its peers'
# records and takes it after a reload; with the oldest epoch dropped, its
# entries are skipped.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {
#         walrus_committee DIR/committee;         # 1.json, later 2.json
#         walrus_node_keeper_interval 300ms;
#         walrus_redis 127.0.0.1:REDIS_PORT;
#         walrus_worker_cache_size 0;             # Redis is asked, always
#
#         server {                                # the gateway
#             location /v1/ {
#                 walrus_gateway;
#                 walrus_gateway_key DIR/keys/gateway.key;
#                 walrus_gateway_temp_path DIR/tmp/walrus;
#             }
#         }
#         server {                                # node i, 0..6
#             location / {
#                 walrus_node;
#                 walrus_node_name node<i>;
#                 walrus_node_key DIR/keys/node<i>.key; # node3b.key, epoch 2
#                 walrus_node_store DIR/store<i>;
#                 walrus_node_scrub_rate 1m;
#             }
#         }
#     }

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);
use MIME::Base64 qw(decode_base64url);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $CTL = $WalrusTest::CTL;
my $hist = "$dir/committee";
my $json = JSON::PP->new;

# the history: the harness's committee is epoch 1; key files are named
# relative to the directory, so keys/ is there too
mkdir $hist or die "mkdir: $!";
symlink '../keys', "$hist/keys" or die "symlink: $!";
my $one = WalrusTest::read_file($t->committee);
WalrusTest::write_file("$hist/1.json", $one);

# epoch 2: the same nodes and shards, node 3 with a new key
WalrusTest::run_quiet($CTL, 'keygen', "$dir/keys/node3b") or die 'keygen';
(my $two = $one) =~ s/"epoch":1,/"epoch":2,/ or die 'no epoch';
$two =~ s{keys/node3\.pub}{keys/node3b.pub} or die 'no node3 key';

my %key = map { $_ => "node$_" } 0 .. $n - 1;

sub node_location {
    my ($i) = @_;
    return <<"EOF";
        location / {
            walrus_node;
            walrus_node_name node$i;
            walrus_node_key %%DIR%%/keys/$key{$i}.key;
            walrus_node_store %%DIR%%/store$i;
            walrus_node_scrub_rate 1m;
        }
EOF
}

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_redis 127.0.0.1:%%REDIS_PORT%%;
    walrus_worker_cache_size 0;
EOF

sub configure {
    my ($committee) = @_;
    $t->write_config(gateway => 1, http => $HTTP, node => \&node_location,
                     committee => $committee // $hist);
}

# writes the configuration on $committee and reloads: whether the
# gateway comes to $epoch and the worker of the old configuration exits
# (until then it may still answer on kept-alive connections, one nginx
# running all roles)
sub reload_to {
    my ($committee, $epoch) = @_;
    my ($old) = $t->worker_pids;
    configure($committee);
    kill 'HUP', $t->master_pid;
    return eventually(sub { health_epoch() == $epoch }, 10)
           && eventually(sub { !kill 0, $old }, 10);
}

sub health_epoch {
    my $d = eval { $json->decode($t->get('/v1/health')->{content}) } || {};
    return $d->{success}{data}{epoch} // -1;
}

# the gateway's answer to a PUT, decoded
sub put {
    my ($content, $query) = @_;
    my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs'
                                 . ($query // ''), $content);
    return eval { $json->decode($res->{content}) } || {};
}

# a certificate of blob $id (binary) of $epoch signed by the keys named
# (index order), as protocol section 12 writes it
sub certificate {
    my ($epoch, $id, @keys) = @_;
    my $cert = pack('C V a32 v', 1, $epoch, $id, scalar @keys);

    for my $i (0 .. $#keys) {
        WalrusTest::write_file("$dir/confirm.msg",
                               'walrus-confirm:1' . pack('V', $epoch) . $id);
        my $key = "$dir/keys/$keys[$i].key";
        my $sig = `openssl pkeyutl -sign -rawin -inkey $key \\
                   -in $dir/confirm.msg`;
        die 'openssl pkeyutl failed' if $? || length $sig != 64;
        $cert .= pack('v a64', $i, $sig);
    }

    return $cert;
}

# a history DIR/$name of copies of the files of @epochs
sub history_of {
    my ($name, @epochs) = @_;
    my $d = "$dir/$name";
    mkdir $d or die "mkdir: $!";
    symlink '../keys', "$d/keys" or die "symlink: $!";
    WalrusTest::write_file("$d/$_.json", WalrusTest::read_file("$hist/$_.json"))
        for @epochs;
    return $d;
}

# walrusctl -c DIR verify-cert: (exit code, output)
sub verify_cert {
    my ($id, $bytes) = @_;
    WalrusTest::write_file("$dir/cert.bin", $bytes);
    my $out = `$CTL -c $hist verify-cert --blob-id $id $dir/cert.bin 2>&1`;
    return ($? >> 8, $out);
}

# --- epoch 1 ------------------------------------------------------------------

$t->start_redis;
configure()->run;
is(health_epoch(), 1, 'the gateway starts on epoch 1 of the directory');

my $blob_a = WalrusTest::blob_of(3 * $S + 123, 5);
my $blob_b = WalrusTest::blob_of(100, 9);
# both stay in force in epoch 2 (blobs expire after their end epoch)
my $da = put($blob_a, '?epochs=5');
my $db = put($blob_b, '?epochs=3');
my $id_a = $da->{newlyCreated}{blobObject}{blobId} // '';
my $id_b = $db->{newlyCreated}{blobObject}{blobId} // '';
is($id_a, $t->encode($blob_a), 'a blob is stored in epoch 1');
is($da->{newlyCreated}{certificate}{epoch}, 1, '... its certificate is '
                                               . 'of epoch 1');
my $cert_a = decode_base64url($da->{newlyCreated}{certificate}{bytes} // '');
is((unpack 'C V', $cert_a)[1], 1, '... in its bytes too');
is($id_b, $t->encode($blob_b), 'another one');

# an epoch-2 certificate, before any node knows epoch 2
my $raw_a = WalrusTest::Proto::unb64url($id_a);
my $cert2 = certificate(2, $raw_a, map { $_ == 3 ? 'node3b' : "node$_" }
                                   0 .. $n - 1);
my $res = $t->node_request(0, 'PUT', "/v1/blobs/$id_a/certificate", $cert2);
is($res->{status}, 409, 'a node without epoch 2 refuses an epoch-2 '
                        . 'certificate with 409');
is(reason($res), 'UNKNOWN_EPOCH', '... UNKNOWN_EPOCH');
like($res->{content},
     qr/epoch 2, which this node's committee history \(epochs 1 to 1\) does/,
     '... saying which epochs it holds');

# --- reloads onto broken directories ------------------------------------------

my ($worker) = $t->worker_pids;

sub reload_fails {
    my ($what, $re) = @_;
    my $mark = $t->log_mark;
    my ($passed, $out) = $t->test_config;
    ok(!$passed, "$what: nginx -t fails");
    like($out, $re, '... with the loader\'s message');
    $t->allow_log($re);
    kill 'HUP', $t->master_pid;
    ok(eventually(sub { $t->log_since($mark) =~ $re }, 5),
       '... the reload fails with it');
    sleep 0.3;
    ok(kill(0, $worker), '... the worker of the old configuration runs');
    blob_is($t->get_blob($id_a), $blob_a, '... and reads the blob');
    is(health_epoch(), 1, '... on epoch 1');
}

(my $three = $two) =~ s/"epoch":2,/"epoch":3,/;
WalrusTest::write_file("$hist/3.json", $three);
reload_fails('a gap (1.json, 3.json)',
             qr/invalid committee file ".*committee": .*no file for epoch 2/);
unlink "$hist/3.json";

(my $bad = $two) =~ s/"n_shards":7,/"n_shards":8,/;
$bad =~ s/"shards":\[6\]/"shards":[6,7]/;
WalrusTest::write_file("$hist/2.json", $bad);
reload_fails('n_shards changed in 2.json',
             qr/2\.json: n_shards is 8, it was 7 in epoch 1/);

# --- epoch 2 ------------------------------------------------------------------

WalrusTest::write_file("$hist/2.json", $two);
$key{3} = 'node3b';
ok(reload_to($hist, 2), 'a reload with 2.json in the directory moves to '
                        . 'epoch 2');

# Redis holds what epoch 1 wrote: the certificates verify against epoch 1
my $gets = $t->metadata_gets;
blob_is($t->get_blob($id_a), $blob_a, 'a blob of epoch 1 reads byte for byte');
blob_is($t->get_blob($id_b), $blob_b, '... and another');
is($t->metadata_gets, $gets, '... from the Redis entries of epoch 1');

my $st = eval { $json->decode($t->get("/v1/blobs/$id_a/status")->{content}) }
         || {};
my $sc = $st->{success}{data}{certificate} // {};
is($sc->{epoch}, 1, 'its status shows a certificate of epoch 1');
is_deeply([ @$sc{qw(signers weight)} ],
          [ @{$da->{newlyCreated}{certificate}}{qw(signers weight)} ],
          '... its signers named and weighed by the committee of epoch 1');

# without Redis the nodes' certificates are verified against epoch 1
$t->redis('FLUSHALL');
blob_is($t->get_blob($id_a), $blob_a, 'with Redis emptied it reads again');
ok($t->metadata_gets > $gets, '... from the nodes');

my $again = put($blob_a);
is($again->{alreadyCertified}{certificate}{epoch}, 1,
   'storing it again: already certified in epoch 1');

# new blobs are certified in epoch 2, node 3 signing with its new key
# (stored past epoch 3, when this test still reads them)
my $blob_c = WalrusTest::blob_of(2 * $S + 7, 13);
my $dc = put($blob_c, '?epochs=5');
my $id_c = $dc->{newlyCreated}{blobObject}{blobId} // '';
is($id_c, $t->encode($blob_c), 'a blob is stored in epoch 2');
is($dc->{newlyCreated}{certificate}{epoch}, 2, '... with a certificate of '
                                               . 'epoch 2');
my $cert_c = decode_base64url($dc->{newlyCreated}{certificate}{bytes} // '');
is((unpack 'C V', $cert_c)[1], 2, '... in its bytes too');
cmp_ok($dc->{newlyCreated}{certificate}{weight} // 0, '>=', $n - $t->f,
       '... by a quorum of epoch 2');
blob_is($t->get_blob($id_c), $blob_c, '... and reads back');

my ($rc, $out) = verify_cert($id_a, $cert_a);
is($rc, 0, 'walrusctl -c DIR verify-cert accepts the certificate of epoch 1')
    or diag $out;
like($out, qr/committee of epoch 1 \(current epoch 2\)/, '... against epoch 1');
($rc, $out) = verify_cert($id_c, $cert_c);
is($rc, 0, '... and the one of epoch 2') or diag $out;
like($out, qr/committee of epoch 2 \(current epoch 2\)/, '... against epoch 2');

# a node maps signer 3 of an epoch-2 certificate to node 3's epoch-2 key
my $old3 = certificate(2, $raw_a, map { "node$_" } 0 .. $n - 1);
$res = $t->node_request(0, 'PUT', "/v1/blobs/$id_a/certificate", $old3);
is($res->{status}, 400, 'an epoch-2 certificate with node 3\'s old key is '
                        . 'refused');
is(reason($res), 'INVALID_CERTIFICATE', '... as invalid');
$res = $t->node_request(0, 'PUT', "/v1/blobs/$id_a/certificate", $cert2);
ok($res->{status} == 200 || $res->{status} == 201,
   'the epoch-2 certificate the node refused before is taken now')
    or diag("$res->{status} $res->{content}");

# a node that lost its store learns the blobs of both epochs from its
# peers' records: entries of epoch 1 are checked against epoch 1
my $mark = $t->log_mark;
WalrusTest::wipe($t->store(5));
ok(eventually(sub { !grep { !$t->holds(5, $_) } $id_a, $id_b, $id_c }, 20),
   'a wiped node gets back the blobs of epochs 1 and 2 from its peers');
unlike($t->log_since($mark), qr/does not verify/,
       '... no entry of its peers was refused');

# --- epoch 3: the same nodes listed in the opposite order ---------------------

# A signer index is a place in its epoch's node list: index 0 of the
# certificates of epochs 1 and 2 is node0, of epoch 3 node6.
my $c3 = $json->decode($two);
$c3->{epoch} = 3;
$c3->{nodes} = [ reverse @{$c3->{nodes}} ];
WalrusTest::write_file("$hist/3.json", $json->canonical->encode($c3));
ok(reload_to($hist, 3), 'epoch 3 lists the nodes in the opposite order');

sub status_cert {
    my ($id) = @_;
    my $d = eval { $json->decode($t->get("/v1/blobs/$id/status")->{content}) }
            || {};
    my $c = $d->{success}{data}{certificate} // {};
    return [ @$c{qw(epoch signers weight)} ];
}

$t->redis('FLUSHALL');
for ([ $id_a, $da, 1 ], [ $id_c, $dc, 2 ]) {
    my ($id, $d, $e) = @$_;
    is_deeply(status_cert($id),
              [ $e, @{$d->{newlyCreated}{certificate}}{qw(signers weight)} ],
              "the certificate of epoch $e names its signers by epoch ${e}'s "
              . 'list');
}
blob_is($t->get_blob($id_a), $blob_a, 'the blob of epoch 1 reads');
blob_is($t->get_blob($id_c), $blob_c, '... and the one of epoch 2');
my ($rc3, $out3) = verify_cert($id_a, $cert_a);
is($rc3, 0, 'walrusctl verifies the certificate of epoch 1 in epoch 3');
like($out3, qr/committee of epoch 1 \(current epoch 3\)/,
     '... against the committee of epoch 1');

my $blob_d = WalrusTest::blob_of($S + 1, 17);
my $dd = put($blob_d, '?epochs=5');
my $id_d = $dd->{newlyCreated}{blobObject}{blobId} // '';
is($id_d, $t->encode($blob_d), 'a blob is stored in epoch 3');
my $cd = $dd->{newlyCreated}{certificate} // {};
is($cd->{epoch}, 3, "a blob stored in epoch 3 is certified in epoch 3")
    or diag($json->encode($dd));
my %signed = map { $_ => 1 } @{$cd->{signers} // []};
cmp_ok(scalar(keys %signed), '>=', $n - $t->f, '... by a quorum');
($rc, $out) = verify_cert($dd->{newlyCreated}{blobObject}{blobId} // '',
                          decode_base64url($cd->{bytes} // ''));
like($out, qr/committee of epoch 3 \(current epoch 3\)/,
     '... which walrusctl checks against epoch 3');
($rc, $out) = verify_cert($id_a, $cert_a);
like($out, qr/committee of epoch 1 \(current epoch 3\)/,
     '... and the one of epoch 1 against epoch 1');

# --- a node behind: its history lacks the newest epoch ------------------------

# One nginx runs every node, so all go back to epochs 1 and 2 here; the
# node wiped then learns the blobs of those epochs from its peers'
# records and waits at the entry of epoch 3 (not skipped: its cursor
# stays there), which it takes once a reload brings epoch 3.
ok(reload_to(history_of('behind', 1, 2), 2),
   'a reload onto a directory of epochs 1 and 2');

$mark = $t->log_mark;
WalrusTest::wipe($t->store(5));
ok(eventually(sub { !grep { !$t->holds(5, $_) } $id_a, $id_b, $id_c }, 20),
   'a node wiped then gets back the blobs of epochs 1 and 2');
my $waits = 'listed a certificate of epoch 3, which the committee history '
            . '(epochs 1 to 2) does not hold';
ok(eventually(sub { index($t->log_since($mark), $waits) >= 0 }, 10),
   '... says it waits at an entry of epoch 3');
ok(!$t->holds(5, $id_d), '... and has not taken the blob of epoch 3');
unlike($t->log_since($mark), qr/does not verify/, '... nor refused it');

ok(reload_to($hist, 3), 'a reload brings epoch 3 back');
ok(eventually(sub { $t->holds(5, $id_d) }, 20),
   '... and the node takes the blob of epoch 3 from where it waited');

# --- the oldest epoch dropped -------------------------------------------------

# Certificates of epoch 1 no longer verify: a node that lost its store
# skips them in its peers' records (it does not wait for epoch 1) and
# learns what comes after.
ok(reload_to(history_of('dropped', 2, 3), 3),
   'a reload onto a directory of epochs 2 and 3');

$mark = $t->log_mark;
WalrusTest::wipe($t->store(5));
ok(eventually(sub { $t->holds(5, $id_d) }, 20),
   'a node wiped then gets back the blob of epoch 3');
like($t->log_since($mark),
     qr/entries whose certificate or registration does not verify: skipped/,
     '... past the entries of epoch 1, skipped');
ok(!$t->holds(5, $id_a), '... which it does not take');

$t->stop;
$t->stop_redis;

done_testing;
