# Blob lifetime (docs/protocol.md section 19, http-api.md G4): a blob
# stored with ?epochs=2 in epoch 1 (end epoch 3) reads in epochs 1 and 2;
# from epoch 3 on the nodes answer its metadata, certificate and slivers
# 404 BLOB_EXPIRED with the registration in X-Walrus-Registration, refuse
# uploads of it, and their garbage collection reclaims its files down to
# the registration; the gateway answers 404 BLOB_EXPIRED from its Redis
# entry (the entry carries the registration) and from the nodes, and
# never serves it again.  Blobs stored for longer still read; the expired
# blob comes back when it is stored again (a later registration).
# Cache-Control follows the end epoch: max-age is the whole epochs left
# after the current one (walrus_gateway_epoch_duration each, at most a
# year), walrus_gateway_short_max_age in a blob's last epoch and for
# deletable blobs, "immutable" only for permanent blobs before their last
# epoch.  A garbage collection cut short by kill -9 of nginx finishes
# after a restart.  A deletable blob is deleted with walrusctl delete and
# the key that registered it (not another key; a permanent blob not at
# all): the nodes drop its files at once and answer 404 BLOB_DELETED with
# the deletion.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {
#         walrus_committee DIR/committee;         # 1.json, then 2, 3, 4
#         walrus_node_keeper_interval 300ms;
#         walrus_node_gc_rate 5;                  # blobs a second
#         walrus_redis 127.0.0.1:REDIS_PORT;
#         walrus_gateway_epoch_duration 30d;
#         walrus_gateway_short_max_age 30s;
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
#                 walrus_node_key DIR/keys/node<i>.key;
#                 walrus_node_store DIR/store<i>;
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
my $hist = "$dir/committee";
my $json = JSON::PP->new;
my $DAY = 86400;

mkdir $hist or die "mkdir: $!";
symlink '../keys', "$hist/keys" or die "symlink: $!";
my $one = WalrusTest::read_file($t->committee);
WalrusTest::write_file("$hist/1.json", $one);

# (and the Prometheus metrics, operations.md "Metrics")
my $mport = WalrusTest::free_port();
my $HTTP = <<"EOF";
    walrus_node_keeper_interval 300ms;
    walrus_node_gc_rate 5;
    walrus_redis 127.0.0.1:%%REDIS_PORT%%;
    walrus_gateway_epoch_duration 30d;
    walrus_gateway_short_max_age 30s;

    server {
        listen 127.0.0.1:$mport;

        location = /metrics {
            walrus_metrics;
        }
    }
EOF

sub configure {
    $t->write_config(gateway => 1, http => $HTTP, committee => $hist);
}

sub health_epoch {
    my $d = eval { $json->decode($t->get('/v1/health')->{content}) } || {};
    return $d->{success}{data}{epoch} // -1;
}

# the next epoch: a copy of epoch 1's committee under the next number,
# loaded with a reload; whether the gateway and every node come to it and
# the worker of the old configuration exits
sub next_epoch {
    my ($epoch) = @_;
    (my $text = $one) =~ s/"epoch":1,/"epoch":$epoch,/ or die 'no epoch';
    WalrusTest::write_file("$hist/$epoch.json", $text);
    my ($old) = $t->worker_pids;
    configure();
    kill 'HUP', $t->master_pid;
    return eventually(sub { health_epoch() == $epoch }, 10)
           && eventually(sub { !kill 0, $old }, 10);
}

sub put {
    my ($content, $query) = @_;
    my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs' . $query,
                          $content);
    my $d = eval { $json->decode($res->{content}) } || {};
    return $d->{newlyCreated}{blobObject}{blobId} // '';
}

sub cache_control {
    my ($id) = @_;
    return $t->get_blob($id)->{headers}{'cache-control'} // '';
}

# the decoded registration of an answer's X-Walrus-Registration header:
# (epoch, blob ID, end epoch, deletable), or () without one
sub registration_of {
    my ($res) = @_;
    my $raw = decode_base64url($res->{headers}{'x-walrus-registration'}
                               // '');
    return () if length $raw != 162;
    my ($tag, $epoch, $id, undef, $end, $del) = unpack 'a17 V a32 a8 V C',
                                                       $raw;
    return () if $tag ne 'walrus-register:1';
    return ($epoch, WalrusTest::Proto::b64url($id), $end, $del);
}

# the names in node i's directory of blob $id
sub files_of {
    my ($i, $id) = @_;
    opendir my $dh, $t->store($i) . "/$id" or return ();
    my @names = sort grep { !/^\.\.?$/ } readdir $dh;
    closedir $dh;
    return @names;
}

# whether every node holds nothing of $id but its tombstone
sub reclaimed {
    my ($id) = @_;
    for my $i (0 .. $n - 1) {
        my @left = grep { !/^(registration|recorded|deleted)$/ }
                   files_of($i, $id);
        return 0 if @left || !grep { $_ eq 'registration' } files_of($i, $id);
    }
    return 1;
}

sub node_gc {
    my ($i) = @_;
    my $res = $t->node_request($i, 'GET', '/v1/health');
    my $d = eval { $json->decode($res->{content}) } || {};
    return $d->{success}{data}{keeper}{gc} // {};
}

sub is_expired {
    my ($res, $end, $now, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($res->{status} == 404 && reason($res) eq 'BLOB_EXPIRED', $name)
        or diag("$res->{status} " . substr($res->{content} // '', 0, 300));
    my $until = $end - 1;
    like($res->{content} // '',
         qr/stored until epoch $until; the current epoch is $now/,
         '... saying until when, and the epoch');
}

# --- epoch 1 -----------------------------------------------------------------

$t->start_redis;
configure()->run;
is(health_epoch(), 1, 'epoch 1');

my $blob_a = WalrusTest::blob_of(3 * $S + 11, 3);      # 2 epochs, deletable
my $blob_p = WalrusTest::blob_of(2 * $S + 5, 4);       # 2 epochs, permanent
my $blob_l = WalrusTest::blob_of(5 * $S + 7, 5);       # 5 epochs, permanent
my $blob_x = WalrusTest::blob_of(100, 6);              # 53 epochs
my $id_a = put($blob_a, '?epochs=2');
my $id_p = put($blob_p, '?epochs=2&permanent=true');
my $id_l = put($blob_l, '?epochs=5&permanent=true');
my $id_x = put($blob_x, '?epochs=53&permanent=true');
is($id_a, $t->encode($blob_a), 'a deletable blob stored for 2 epochs');
is($id_p, $t->encode($blob_p), 'a permanent one for 2 epochs');
is($id_l, $t->encode($blob_l), 'a permanent one for 5 epochs');
is($id_x, $t->encode($blob_x), 'a permanent one for 53 epochs');

blob_is($t->get_blob($id_a), $blob_a, 'epoch 1: the 2-epoch blob reads');
blob_is($t->get_blob($id_p), $blob_p, '... the permanent one too');

is(cache_control($id_a), 'public, max-age=30',
   'Cache-Control of a deletable blob: the short max-age, not immutable');
is(cache_control($id_p), 'public, max-age=' . 30 * $DAY . ', immutable',
   'a permanent blob ending after epoch 2, in epoch 1: one epoch');
is(cache_control($id_l), 'public, max-age=' . 4 * 30 * $DAY . ', immutable',
   '... ending after epoch 5: four epochs');
is(cache_control($id_x), 'public, max-age=31536000, immutable',
   '... ending after epoch 53: a year at most');

# what the nodes send with the blob's data
my $res = $t->node_request(0, 'GET', "/v1/blobs/$id_a/metadata");
is($res->{status}, 200, 'a node serves the metadata in epoch 1');
is_deeply([ registration_of($res) ], [ 1, $id_a, 3, 1 ],
          '... with the registration: epoch 1, the blob, end epoch 3, '
          . 'deletable');
$res = $t->node_request(1, 'GET', "/v1/blobs/$id_p/certificate");
is_deeply([ registration_of($res) ], [ 1, $id_p, 3, 0 ],
          'the certificate answer carries it too (permanent)');

# --- epoch 2: the last epoch of the 2-epoch blobs --------------------------

ok(next_epoch(2), 'a reload brings epoch 2');
blob_is($t->get_blob($id_a), $blob_a, 'epoch 2: the 2-epoch blob reads');
blob_is($t->get_blob($id_p), $blob_p, '... and the permanent one');
is(cache_control($id_p), 'public, max-age=30',
   'in its last epoch a permanent blob gets the short max-age');
is(cache_control($id_l), 'public, max-age=' . 3 * 30 * $DAY . ', immutable',
   'the 5-epoch blob: three epochs left after this one');
$res = $t->get_blob($id_a);
ok($t->redis('EXISTS', "walrus:r:$id_a"),
   'Redis holds the registration with the entry');
my $dp = $t->node_request(2, 'GET', "/v1/blobs/$id_p/slivers/0/primary");
ok($dp->{status} == 200 || $dp->{status} == 404,
   'a sliver answer in epoch 2');

# --- epoch 3: expired ------------------------------------------------------

ok(next_epoch(3), 'a reload brings epoch 3');

my $gets = $t->metadata_gets;
is_expired($t->get_blob($id_a), 3, 3,
           'epoch 3: the gateway answers 404 BLOB_EXPIRED');
is($t->metadata_gets, $gets, '... from its Redis entry, asking no node');
is_expired($t->get_blob($id_p), 3, 3, '... for the permanent one too');
is_deeply([ (registration_of($t->get_blob($id_a)))[2] ], [3],
          '... with the registration in X-Walrus-Registration');
$res = $t->request('HEAD', $t->gateway_url . "/v1/blobs/$id_a");
is($res->{status}, 404, 'HEAD of it: 404');
$res = $t->get("/v1/blobs/$id_a/status");
is(reason($res), 'BLOB_EXPIRED', 'its status: BLOB_EXPIRED');

for my $i (0 .. $n - 1) {
    $res = $t->node_request($i, 'GET', "/v1/blobs/$id_a/metadata");
    next if $res->{status} == 404 && reason($res) eq 'BLOB_EXPIRED'
            && (registration_of($res))[2] == 3;
    fail("node $i answers metadata 404 BLOB_EXPIRED with the registration");
    diag("$res->{status} $res->{content}");
}
pass('every node answers the metadata 404 BLOB_EXPIRED with the '
     . 'registration');
$res = $t->node_request(0, 'GET', "/v1/blobs/$id_a/certificate");
is(reason($res), 'BLOB_EXPIRED', '... the certificate too');
like($res->{content}, qr/stored until epoch 2 .*end epoch is 3.*epoch 3/,
     '... naming the end epoch');
$res = $t->node_request(5, 'GET', "/v1/blobs/$id_a/slivers/5/primary");
is(reason($res), 'BLOB_EXPIRED', '... a sliver too');
$res = $t->node_request(0, 'GET', "/v1/blobs/$id_a/recovery/1");
is(reason($res), 'BLOB_EXPIRED', '... and recovery symbols');
$res = $t->node_request(0, 'GET', "/v1/blobs/$id_a/registration");
is($res->{status}, 200, 'the registration itself is still served');

$res = $t->node_request(0, 'PUT', "/v1/blobs/$id_a/metadata", 'x' x 100);
is($res->{status}, 403, 'an upload of the expired blob is refused: 403');
is(reason($res), 'BLOB_EXPIRED', '... BLOB_EXPIRED');

# the blob stored for longer reads
blob_is($t->get_blob($id_l), $blob_l, 'the 5-epoch blob still reads');

# from the nodes, with Redis emptied: the nodes' 404s carry the proof
$t->redis('FLUSHALL');
is_expired($t->get_blob($id_a), 3, 3,
           'with Redis emptied: 404 BLOB_EXPIRED from the nodes');
ok(!$t->redis('EXISTS', "walrus:m:$id_a"), '... and nothing is cached');
is_expired($t->get_blob($id_a), 3, 3, '... again (the worker remembers '
                                      . 'nothing of it either)');

# the garbage collection
ok(eventually(sub { reclaimed($id_a) && reclaimed($id_p) }, 30),
   'every node reclaims both expired blobs: the registration is left');
ok(!grep({ !reclaimed($_) } $id_a, $id_p), '... on all 7 nodes');
is_deeply([ grep { $_ ne 'recorded' } files_of(3, $id_a) ],
          ['registration'], '... node 3 keeps its registration alone');
ok(!reclaimed($id_l), 'the 5-epoch blob keeps its files');
for my $i (0 .. $n - 1) {
    my $gc = node_gc($i);
    next if ($gc->{reclaimed} // 0) >= 2;
    fail("node $i counts what it reclaimed");
    diag($json->encode($gc));
}
pass('every node counts 2 blobs reclaimed in its keeper status');
# (a pass is counted once it reached the end of the record, which may be
# a round after the blobs went)
my $counted = 0;
ok(eventually(sub {
       my %m = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () }
               split /\n/, $t->http->get("http://127.0.0.1:$mport/metrics")
                              ->{content};
       $counted = grep {
           ($m{"walrus_node_gc_reclaimed_blobs_total{node=\"node$_\"}"}
            // 0) >= 2
           && ($m{"walrus_node_gc_passes_total{node=\"node$_\"}"} // 0) >= 1
       } 0 .. $n - 1;
       $counted == $n;
   }, 10), "... and in its metrics, with the passes ($counted nodes)");
my $gone = qr/expired \(end epoch 3, epoch 3\): \d+ files reclaimed/;
like(WalrusTest::read_file($t->error_log),
     qr/\[info\].*blob \Q$id_a\E $gone/,
     'a line at info per blob reclaimed');

# after the collection: still the clear reason
is_expired($t->get_blob($id_a), 3, 3, 'after the collection: still 404 '
                                      . 'BLOB_EXPIRED');
$res = $t->node_request(4, 'GET', "/v1/blobs/$id_p/metadata");
is(reason($res), 'BLOB_EXPIRED', '... from the nodes as well');
blob_is($t->get_blob($id_l), $blob_l, 'the 5-epoch blob reads');

# a new registration with a later end epoch brings it back: uploaded again
$res = $t->request('PUT', $t->gateway_url . '/v1/blobs?epochs=2', $blob_a);
my $again = eval { $json->decode($res->{content}) } || {};
is($again->{newlyCreated}{blobObject}{blobId}, $id_a,
   'storing the expired blob again: newly created')
    or diag(substr $res->{content}, 0, 300);
blob_is($t->get_blob($id_a), $blob_a, '... and it reads again');
is_deeply([ (registration_of($t->node_request(0, 'GET',
                                              "/v1/blobs/$id_a/metadata")))
            [0, 2] ], [3, 5], '... registered in epoch 3 until epoch 5');
is(cache_control($id_a), 'public, max-age=30', '... deletable: short');

# --- a collection cut short by kill -9 ------------------------------------------

my @many = map { WalrusTest::blob_of(200 + $_, 20 + $_) } 1 .. 30;
my @ids = map { put($_, '?epochs=1') } @many;
is(scalar(grep { length } @ids), 30, '30 blobs stored for epoch 3 only');
ok(next_epoch(4), 'a reload brings epoch 4: they expire');

my $base = node_gc(0)->{reclaimed} // 0;
ok(eventually(sub { (node_gc(0)->{reclaimed} // 0) > $base }, 20),
   'the collection of the 30 blobs begins');
my $left = grep { !reclaimed($_) } @ids;
ok($left > 0, "... and is not over when nginx is killed ($left left)");
kill 'KILL', $t->master_pid, $t->worker_pids;
sleep 0.5;
unlink "$dir/logs/nginx.pid";
$t->run;
ok(eventually(sub { !grep { !reclaimed($_) } @ids }, 40),
   'after a restart the collection finishes: all 30 reclaimed everywhere');
is_expired($t->get_blob($ids[7]), 4, 4, 'one of them: 404 BLOB_EXPIRED');
blob_is($t->get_blob($id_l), $blob_l, 'the 5-epoch blob still reads');
is(cache_control($id_l), 'public, max-age=' . 30 * $DAY . ', immutable',
   '... cached for the one epoch left after this one');

# --- deletion by the publisher (protocol 19.5) -------------------------------

my $CTL = "$WalrusTest::CTL -c $hist";
my $blob_d = WalrusTest::blob_of(2 * $S + 3, 61);
my $id_d = put($blob_d, '?epochs=3');
blob_is($t->get_blob($id_d), $blob_d, 'a deletable blob stored in epoch 4');

WalrusTest::run_quiet($WalrusTest::CTL, 'keygen', "$dir/keys/stranger")
    or die 'keygen';
my $out = `$CTL delete --key $dir/keys/stranger.key -- $id_d 2>&1`;
ok($? != 0, 'walrusctl delete with a key that did not register it fails');
is(scalar(() = $out =~ /answered 403: the deletion is not signed by the /g),
   $n, '... every node refuses the signature (403)');
blob_is($t->get_blob($id_d), $blob_d, '... and the blob still reads');

$out = `$CTL delete --key $dir/keys/gateway.key -- $id_l 2>&1`;
ok($? != 0 && $out =~ /answered 403: blob \Q$id_l\E is registered as /,
   'a permanent blob cannot be deleted (403)') or diag($out);

$out = `$CTL delete --key $dir/keys/gateway.key -- $id_d 2>&1`;
is($?, 0, 'walrusctl delete with the key that registered it succeeds')
    or diag($out);
is(scalar(() = $out =~ /: deleted$/mg), $n, '... on every node');
# at once, but for a pair a keeper was rebuilding meanwhile: its files
# are dropped when it ends
ok(WalrusTest::eventually(sub { reclaimed($id_d) }, 5),
   '... its files are gone, the tombstone kept');
ok(!grep({ !-e $t->store($_) . "/$id_d/deleted" } 0 .. $n - 1),
   '... with the deletion');
$res = $t->node_request(2, 'GET', "/v1/blobs/$id_d/metadata");
is(reason($res), 'BLOB_DELETED', 'a node answers its metadata 404 '
                                 . 'BLOB_DELETED');
my $del = decode_base64url($res->{headers}{'x-walrus-deletion'} // '');
is(length $del, 115, '... with the deletion in X-Walrus-Deletion');
is(substr($del, 0, 15) . WalrusTest::Proto::b64url(substr $del, 19, 32),
   "walrus-delete:1$id_d", '... the tag and the blob ID');
is(unpack('V', substr $del, 15, 4), 4, '... made in epoch 4');
$res = $t->node_request(2, 'PUT', "/v1/blobs/$id_d/metadata", 'x' x 100);
is(reason($res), 'BLOB_DELETED', 'an upload of it is refused');

# gateway caches keep a deletable blob no longer than the short max-age
# (30 s here); a reload gives workers with an empty memory
$t->redis('FLUSHALL');
my ($old) = $t->worker_pids;
kill 'HUP', $t->master_pid;
ok(eventually(sub { !kill 0, $old }, 10), 'a reload');
$res = $t->get_blob($id_d);
is($res->{status}, 404, 'the gateway answers the deleted blob 404');
is(reason($res), 'BLOB_DELETED', '... BLOB_DELETED (nodes of f + 1 shards '
                                 . 'say so)');

$t->stop;
$t->stop_redis;

done_testing;
