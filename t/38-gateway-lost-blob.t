# Same state, same answer.  A blob is 404 only when no node knows it: a
# certified blob that lost too many slivers is 503, whether the gateway
# has its metadata cached (warm) or must ask the nodes (cold), and
# however fast the nodes that lost it answer.  A "not found" entry in
# Redis always ends, even one that Redis would keep forever.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Path qw(remove_tree);
use JSON::PP;
use Time::HiRes qw(sleep);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $f = $t->f;

sub answer { my $r = $t->get_blob($_[0]); return "$r->{status} " . reason($r) }

my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

# --- 5 of 7 stores wiped: cold and warm reads agree -------------------------

# the nodes' keepers stay off: they would heal what this test takes away
$t->write_config(gateway => $GATEWAY, http => "    walrus_node_keeper off;\n")
  ->run;

my $blob = WalrusTest::pattern_blob(3 * $S, 5);
my $id = $t->put_blob($blob);
ok($id, 'a blob is stored');

my $unknown = WalrusTest::Proto::b64url("\x42" x 32);
is(answer($unknown), '404 BLOB_NOT_FOUND', 'an unknown blob: 404');

# nodes slower than the quorum may still be storing the blob after the
# answer (straggling requests): wait until every node holds all of it
ok(WalrusTest::eventually(sub {
       !grep { !-e $t->store($_) . "/$id/certificate" } 0 .. $n - 1 }),
   'every node holds the certificate');

# n - f stores wiped: the nodes that lost it answer 404 for metadata and
# certificate, the f that keep it prove it certified
my @wiped = (0 .. $n - $f - 1);
remove_tree($t->store($_) . "/$id") for @wiped;
ok(!-e $t->store(0) . "/$id", "the stores of nodes @wiped lost the blob");

$t->restart;                          # the worker's cache is empty: cold
is(answer($id), '503 NOT_ENOUGH_SLIVERS',
   'cold: a certified blob with too few slivers is 503, not 404');
is(answer($id), '503 NOT_ENOUGH_SLIVERS', 'warm: the same answer');

# all but one store wiped: the one certificate left still proves it
remove_tree($t->store($_) . "/$id") for $n - $f .. $n - 2;
$t->restart;
like(answer($id), qr/^503 /,
     'one node left with the certificate: still 503, not 404');

# nodes that keep only the certificate: certified, metadata lost
unlink $t->store($n - 1) . "/$id/metadata";
$t->restart;
is(answer($id), '503 BLOB_UNAVAILABLE',
   'a certificate but no metadata anywhere: 503 BLOB_UNAVAILABLE');

remove_tree($t->store($n - 1) . "/$id");
$t->restart;
is(answer($id), '404 BLOB_NOT_FOUND', 'no node knows it any more: 404');

$t->stop;

# --- Redis: "not found" entries end --------------------------------------------

$t->start_redis;
$t->write_config(gateway => $GATEWAY, http => <<'EOF')->run;
    walrus_node_keeper off;
    walrus_redis 127.0.0.1:%%REDIS_PORT%%;
    walrus_worker_cache_size 0;
EOF

my $other = WalrusTest::pattern_blob(2 * $S, 6);

# the gateway writes its entries after it answered the PUT, the "not
# found" entry's DEL last: one set before shows when they are all in
my $other_enc = $t->encode($other);
$t->redis('SET', "walrus:n:$other_enc", '1');
my $other_id = $t->put_blob($other);
ok($other_id, 'a blob is stored with Redis');
ok(eventually(sub { !$t->redis('EXISTS', "walrus:n:$other_enc") }, 10),
   '... and its entries are written');

# its metadata and certificate no longer cached (expired, evicted, or
# never written by this gateway), and a "not found" entry written by
# hand, or persisted: Redis keeps it forever
$t->redis('DEL', "walrus:m:$other_id", "walrus:c:$other_id");
$t->redis('SET', "walrus:n:$other_id", '1');
is($t->redis('TTL', "walrus:n:$other_id"), -1,
   'a "not found" entry without expiry');
blob_is($t->get_blob($other_id), $other,
        '... does not hide a certified blob');
ok(eventually(sub { !$t->redis('EXISTS', "walrus:n:$other_id") }, 10),
   '... which the gateway deletes');

$t->redis('DEL', "walrus:m:$other_id", "walrus:c:$other_id");
$t->redis('SET', "walrus:n:$other_id", time + 3600);
blob_is($t->get_blob($other_id), $other,
        '... nor does one that claims to last longer than the negative TTL');

$t->redis('DEL', "walrus:n:$other_id");
is(answer($unknown), '404 BLOB_NOT_FOUND', 'an unknown blob: 404');
my $value;
for (1 .. 40) {
    $value = $t->redis('GET', "walrus:n:$unknown");
    last if defined $value;
    sleep 0.05;
}
my $ttl = $t->redis('TTL', "walrus:n:$unknown");
ok($ttl > 0 && $ttl <= 2, "the gateway's own entry expires (TTL $ttl)");
ok(defined $value && $value > time && $value <= time + 3,
   '... and holds the time it ends at');
is(answer($unknown), '404 BLOB_NOT_FOUND', '... and answers from Redis');

$t->stop;
$t->stop_redis;

done_testing();
