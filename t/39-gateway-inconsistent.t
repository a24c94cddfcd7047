# The gateway, inconsistency proofs and Redis (issue 16): a proof a node
# sent that held is kept in Redis, and a gateway that finds it there
# checks it again instead of asking the node; forged Redis entries and a
# node that lies about blobs being inconsistent are ignored and never
# cached.  (The node's side and the gateway without Redis: t/19.)
#
# Seven nodes (f = 2, p = 3).  The bad blob comes from t/tools/bad_parity:
# its primary sliver p of segment 0 is garbage the metadata commits to,
# and the keeper of the node holding pair p (X), wiped, keeps the proof.
# The first other node (L) sits behind a relay that, while the file
# "claim" exists, says every blob is inconsistent and sends the file "lie"
# as the proof; X sits behind one that, while the file "late" exists,
# answers metadata and certificate requests 150 ms late.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $P = 'WalrusTest::Proto';

my $bad = blob_of(2 * $S + 500, 9);
WalrusTest::write_file("$dir/bad.bin", $bad);
my $bad_id =
    `$WalrusTest::ROOT/build/tools/bad_parity $n $S $dir/bad.bin $dir/bad`;
chomp $bad_id;
my $p = $n - 2 * $t->f;
my ($X) = grep {
    $P->can('shard_to_pair')->($P->can('unb64url')->($bad_id), $n, $_) == $p
} 0 .. $n - 1;
my $L = $X == 0 ? 1 : 0;

# --- the relays ------------------------------------------------------------

# the relayed nodes' servers on ports of their own
my ($moved, @real) = $t->moved_nodes($L, $X);

sub relay {
    my ($c, $i) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my ($uri) = $h =~ m{^\S+ (\S+)};
        my $asked = $uri =~ m{/(?:metadata|certificate)$};
        my $claim = $i == $L && -e "$dir/claim";

        if ($claim && $uri =~ m{/inconsistency$}) {
            my $lie = WalrusTest::read_file("$dir/lie") // '';
            print $c "HTTP/1.1 200 OK\r\nContent-Length: "
                . length($lie) . "\r\n\r\n$lie";
            next;
        }

        sleep 0.15 if $i == $X && $asked && -e "$dir/late";
        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        $answer =~ s/\r\n\r\n/\r\nX-Walrus-Inconsistent: true\r\n\r\n/
            if $claim && $asked;
        print $c $answer;
    }
}

my @relays = map {
    my $i = $_;
    $t->start_relay($i, sub { relay($_[0], $i) });
} $L, $X;

# the keeper heals within a second; every read asks Redis, the worker
# remembers nothing
my $HTTP = $moved . <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_redis 127.0.0.1:%%REDIS_PORT%%;
EOF

$t->start_redis;
$t->write_config(gateway => 1, down => [$L, $X],
                 http => $HTTP . "    walrus_worker_cache_size 0;\n")->run;

# --- a node keeps the proof of a blob encoded inconsistently -----------------

is($t->store_directly($bad_id, length $bad, "$dir/bad"), $n,
   'a blob encoded inconsistently is stored on the nodes');

my $proof = $t->store($X) . "/$bad_id/inconsistency";
WalrusTest::wipe($t->store($X) . "/$bad_id");
ok(eventually(sub { -s $proof }, 20), "node $X keeps an inconsistency proof");
my $proof_bytes = WalrusTest::read_file($proof);

sub proof_gets {
    return scalar grep { m{^GET /v1/blobs/\Q$_[0]\E/inconsistency } }
                  $t->node_access($X);
}

sub segment1 {
    return $t->get_blob($_[0], { Range => "bytes=$S-" . ($S + 99) });
}

# --- its proof goes to Redis, and is checked there ---------------------------

# node X's answers come after the others' (the read has metadata and
# certificate without them), but within the hedge delay the read waits
# for the certificates of the other nodes; the liar claims too, with
# garbage: whether its claim is checked before X's or not, the verdict is
# X's
WalrusTest::write_file("$dir/lie", 'walrus-inconsistency:1' . 'x' x 900);
WalrusTest::write_file("$dir/claim", '');
WalrusTest::write_file("$dir/late", '');
my $mark = $t->log_mark;
is_inconsistent(segment1($bad_id), 'a Range GET of segment 1 (which '
                . 'decodes) is refused with 422 INCONSISTENT_BLOB, node '
                . "${X}'s claim coming last");
is(proof_gets($bad_id), 1, "... node ${X}'s proof fetched");
unlink "$dir/late";
ok(eventually(sub {
       ($t->redis('GET', "walrus:i:$bad_id") // '') eq $proof_bytes }),
   '... and kept in Redis');
my $ttl = $t->redis('TTL', "walrus:i:$bad_id");
ok($ttl > 29 * 86400, "... for as long as metadata ($ttl s)");
unlink "$dir/claim";

$mark = $t->log_mark;
is_inconsistent($t->request('HEAD', $t->gateway_url . "/v1/blobs/$bad_id"),
                'the next reads, a HEAD');
is_inconsistent($t->get_blob($bad_id), '... a GET');
is_inconsistent($t->get("/v1/blobs/$bad_id/status"), '... the status');
is(proof_gets($bad_id), 1, '... do not fetch the proof again');
is(scalar $t->log_lines($mark, qr/\[info\].*blob \Q$bad_id\E is /
                               . qr/inconsistently encoded: the proof from /
                               . qr/Redis holds/), 3,
   '... each checks the one in Redis (worker cache off)');

# the nodes' metadata and certificate, unchanged: only the proof is
# forged; a proof that does not hold proves nothing, and the read goes on
my $tampered = $proof_bytes;
substr($tampered, -40, 1) ^= "\x01";
$t->redis('SET', "walrus:i:$bad_id", $tampered);
$mark = $t->log_mark;
is(segment1($bad_id)->{status}, 206,
   'a tampered proof in Redis: the segment is served');
ok($t->log_lines($mark, qr/inconsistency proof of blob \Q$bad_id\E from /
                        . qr/Redis does not hold \(hash mismatch\); ignored/),
   '... and the entry named at warn');
$t->redis('SET', "walrus:i:$bad_id", $proof_bytes);

# --- forged Redis entries do not make a good blob unreadable ---------------

my $good = blob_of(2 * $S + 77, 11);
my $good_id = $t->encode($good);
$t->store_directly($good_id, length $good);
blob_is($t->get_blob($good_id), $good, 'a good blob is read');
ok(eventually(sub { $t->redis('EXISTS', "walrus:c:$good_id") }),
   '... and cached');
ok(!$t->redis('EXISTS', "walrus:i:$good_id"), '... without a proof');

for my $forged ([ 'another blob\'s proof', $proof_bytes,
                  qr/from Redis does not hold \(blob ID mismatch\)/ ],
                [ 'garbage', 'walrus-inconsistency:1' . 'y' x 500,
                  qr/from Redis does not hold \(malformed input\)/ ],
                [ 'more bytes than a proof', 'z' x (256 * 1024),
                  qr/in Redis has 262144 bytes, more than any proof/ ])
{
    my ($what, $value, $warning) = @$forged;
    $t->redis('SET', "walrus:i:$good_id", $value);
    $mark = $t->log_mark;
    blob_is(segment1($good_id), substr($good, $S, 100),
            "$what in Redis for the good blob: a Range GET is served",
            status => 206);
    ok(scalar($t->log_lines($mark, $warning)), '... and the entry named')
        or diag($t->log_since($mark));
}
$t->redis('DEL', "walrus:i:$good_id");

# --- a liar's claim is never cached ------------------------------------------

my $fresh = blob_of(3 * $S, 12);
my $fresh_id = $t->encode($fresh);
$t->store_directly($fresh_id, length $fresh);
WalrusTest::write_file("$dir/lie", $proof_bytes);
WalrusTest::write_file("$dir/claim", '');
$mark = $t->log_mark;
blob_is(segment1($fresh_id), substr($fresh, $S, 100),
        "node $L says a good blob is inconsistent, with another blob's "
        . 'proof: the segment is served', status => 206);
ok($t->log_lines($mark, qr/proof of blob \Q$fresh_id\E from node$L does /
                        . qr/not hold \(blob ID mismatch\); ignored/),
   '... the liar named at warn');
ok(eventually(sub { $t->redis('EXISTS', "walrus:c:$fresh_id") }),
   '... the blob cached');
ok(!$t->redis('EXISTS', "walrus:i:$fresh_id"), '... without the claim');
blob_is($t->get_blob($fresh_id), $fresh, '... and read whole from the cache');
unlink "$dir/claim";
$t->stop;

# --- the worker's memory keeps the verdict -----------------------------------

$t->write_config(gateway => 1, down => [$L, $X], http => $HTTP)->run;
$mark = $t->log_mark;
is_inconsistent(segment1($bad_id),
                'with the worker cache: a Range GET is refused');
is_inconsistent($t->request('HEAD', $t->gateway_url . "/v1/blobs/$bad_id"),
                '... a HEAD');
is_inconsistent($t->get_blob($bad_id), '... a GET');
is(scalar $t->log_lines($mark, qr/the proof from Redis holds/), 1,
   '... Redis\'s proof checked once');
is(proof_gets($bad_id), 1, '... and the node not asked');
$t->stop;
$t->stop_redis;

kill 'TERM', @relays;
waitpid $_, 0 for @relays;

done_testing();
