# The Redis cache: write-through on PUT, read-through on GET, negative
# entries, poisoned entries, and Redis absent, killed, restarted, or nginx
# reloaded under load; then the worker's own cache in front of it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $json = JSON::PP->new;
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $LOAD = $ENV{WALRUS_LOAD_SECONDS} // 30;

# the Redis sections turn the worker's cache off, so that Redis is used
my $NO_MEMO = "    walrus_worker_cache_size 0;\n";

sub get { $t->request('GET', $t->gateway_url . "/v1/blobs/$_[0]") }

# metadata requests the nodes saw
sub metadata_gets {
    my $count = 0;
    for my $i (0 .. $n - 1) {
        $count += grep { /^GET \S+\/metadata / } $t->node_access($i);
    }
    return $count;
}

# the cache is written after the answer: give it a moment
sub eventually {
    my ($cond) = @_;
    for (1 .. 40) { return 1 if $cond->(); sleep 0.05 }
    return 0;
}

sub blob_of { join '', map { chr(($_ * 41 + $_[1]) % 251) } 1 .. $_[0] }

# a blob stored on the nodes directly, past the gateway and its cache
sub store_directly {
    my ($content) = @_;
    WalrusTest::write_file("$dir/direct.bin", $content);
    my $id = `$WalrusTest::CTL -c $dir/committee.json encode $dir/direct.bin $dir/direct`;
    chomp $id;
    my $raw = $P->can('unb64url')->($id);
    my @signers;
    $t->register($id, length $content);
    for my $i (0 .. $n - 1) {
        my $pair = WalrusTest::Proto::shard_to_pair($raw, $n, $i);
        $t->node_request($i, 'PUT', "/v1/blobs/$id/metadata",
                         WalrusTest::read_file("$dir/direct/metadata"));
        for my $axis (qw(primary secondary)) {
            $t->node_request($i, 'PUT', "/v1/blobs/$id/slivers/$pair/$axis",
                             WalrusTest::read_file("$dir/direct/$pair.$axis"));
        }
        my $c = $json->decode($t->node_request($i, 'GET',
                                  "/v1/blobs/$id/confirmation")->{content});
        push @signers, [$i, $P->can('unb64url')->(
                                $c->{success}{data}{signed}{signature})];
    }
    my $cert = WalrusTest::Proto::certificate(1, $raw, @signers);
    $t->node_request($_, 'PUT', "/v1/blobs/$id/certificate", $cert)
        for 0 .. $n - 1;
    return $id;
}

# --- Redis never started --------------------------------------------------

$t->write_config(gateway => 1, redis => 1, http => $NO_MEMO)->run;
my $blob = blob_of(3 * $S, 1);
my $id = $t->put_blob($blob);
ok($id, 'without Redis an upload succeeds');
ok(get($id)->{content} eq $blob, '... and a read too');
ok(get($id)->{content} eq $blob, '... twice');
my @outage = grep { /redis .* unavailable/ }
             split /\n/, WalrusTest::read_file($t->error_log);
is(scalar @outage, 1, 'the outage is logged once, not per request');
$t->stop;

# --- write-through, read-through ----------------------------------------

$t->start_redis;
$t->write_config(gateway => 1, redis => 1, http => $NO_MEMO)->run;
sleep 0.3;

my $blob2 = blob_of(5 * $S + 7, 2);
my $id2 = $t->put_blob($blob2);
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$id2")
                    && $t->redis('EXISTS', "walrus:c:$id2") }),
   'an upload writes metadata and certificate to Redis');
my $before = metadata_gets();
ok(get($id2)->{content} eq $blob2, 'the blob reads back');
is(metadata_gets(), $before, '... without asking the nodes for metadata');

# the type sniffed at the upload, for HEAD and ranges after segment 0
sub head_type {
    my $res = $t->request('HEAD', $t->gateway_url . "/v1/blobs/$_[0]");
    return ($res->{headers}{'content-type'} // '',
            $res->{headers}{'content-security-policy'} // '');
}
my $type2 = get($id2)->{headers}{'content-type'};
ok(eventually(sub { ($t->redis('GET', "walrus:t:$id2") // '') eq $type2 }),
   "the upload writes the blob's type to Redis ($type2)");
is((head_type($id2))[0], $type2, '... and HEAD gives it');
$t->redis('SET', "walrus:t:$id2", 'application/x-evil');
is((head_type($id2))[0], '', 'a cached type the gateway never sniffs: ignored');
$t->redis('SET', "walrus:t:$id2", 'text/html; charset=utf-8');
is_deeply([ head_type($id2) ], [ 'text/html; charset=utf-8', 'sandbox' ],
          'a cached HTML type is served sandboxed');
get($id2);
ok(eventually(sub { ($t->redis('GET', "walrus:t:$id2") // '') eq $type2 }),
   '... and a read from segment 0 repairs it');

my $direct = store_directly(blob_of(2 * $S, 3));
ok(!$t->redis('EXISTS', "walrus:m:$direct"), 'a blob the cache has not seen');
$before = metadata_gets();
is(get($direct)->{status}, 200, '... is read from the nodes');
ok(metadata_gets() > $before, '... asking them for its metadata');
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$direct") }),
   '... and is cached');
$before = metadata_gets();
is(get($direct)->{status}, 200, 'the next read');
is(metadata_gets(), $before, '... comes from the cache');

# a negative entry is short-lived and cleared by an upload
my $later = blob_of(1000, 4);
WalrusTest::write_file("$dir/later.bin", $later);
my $later_id = `$WalrusTest::CTL -c $dir/committee.json blob-id $dir/later.bin`;
chomp $later_id;
is(get($later_id)->{status}, 404, 'an unknown blob: 404');
my $ttl;
eventually(sub { ($ttl = $t->redis('TTL', "walrus:n:$later_id")) > 0 });
ok($ttl > 0 && $ttl <= 2, "... remembered for $ttl s");
$before = metadata_gets();
is(get($later_id)->{status}, 404, '... and answered from the cache');
is(metadata_gets(), $before, '... without asking the nodes');
is($t->put_blob($later), $later_id, 'the blob is uploaded');
ok(get($later_id)->{content} eq $later, '... and readable at once');

# a poisoned entry is refused and repaired
$t->redis('SET', "walrus:m:$id2",
          WalrusTest::read_file("$dir/direct/metadata"));
ok(get($id2)->{content} eq $blob2, 'a poisoned metadata entry: the right bytes');
like(WalrusTest::read_file($t->error_log), qr/does not verify; ignored/,
     '... the entry is logged as bad');
ok($t->redis('GET', "walrus:m:$id2") ne
   WalrusTest::read_file("$dir/direct/metadata"), '... and repaired');

# a certificate with a forged signature is refused, though a good one of
# the same blob was verified before
my $good = $t->redis('GET', "walrus:c:$id2");
my $forged = $good;
substr($forged, 60, 1) ^= "\x01";
$t->redis('SET', "walrus:c:$id2", $forged);
$before = metadata_gets();
ok(get($id2)->{content} eq $blob2, 'a forged cached certificate: the right bytes');
ok(metadata_gets() > $before, '... fetched again from the nodes');
is($t->redis('GET', "walrus:c:$id2"), $good, '... and the entry repaired');

# --- Redis killed and restarted under load, nginx reloaded -----------------

my @blobs = map { blob_of(2 * $S + $_, 10 + $_) } 1 .. 5;
my @ids = map { $t->put_blob($_) } @blobs;

my @kids;
my $until = time + $LOAD;
for my $k (1 .. 4) {
    my $pid = fork // die;
    if ($pid == 0) {
        my ($ok, $bad, $i) = (0, 0, 0);
        while (time < $until) {
            $i++;
            if ($k == 1 && $i % 3 == 0) {
                my $c = blob_of(3000 + $i, $i) . "load $k $i";
                $t->put_blob($c) ? $ok++ : $bad++;
                next;
            }
            my $j = $i % @ids;
            my $r = get($ids[$j]);
            if ($r->{status} == 200 && $r->{content} eq $blobs[$j]) {
                $ok++;
            } else {
                $bad++;
                diag("GET $j: $r->{status} " . substr($r->{content}, 0, 200))
                    if $bad < 3;
            }
        }
        POSIX::_exit($bad ? 1 : 0);
    }
    push @kids, $pid;
}

my ($old_worker) = $t->worker_pids;
sleep $LOAD * 0.2;
$t->stop_redis;
sleep $LOAD * 0.2;
$t->start_redis;
sleep $LOAD * 0.2;
kill 'HUP', $t->master_pid;
my $gone = 0;
for (1 .. 100) {
    if (!kill 0, $old_worker) { $gone = 1; last }
    sleep 0.1;
}
ok($gone, 'after a reload under load the old worker exits');

my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is($failed, 0, "$LOAD s of GETs and PUTs with Redis killed, restarted and "
               . 'nginx reloaded: no request failed');

# the restarted Redis is used again without a reload
sleep 1;
my $fresh = blob_of(4000, 77);
my $fresh_id = $t->put_blob($fresh);
my $cached = 0;
for (1 .. 60) {
    last if $cached = $t->redis('EXISTS', "walrus:m:$fresh_id");
    sleep 0.1;
}
ok($cached, 'the new Redis is written to after reconnecting');
$before = metadata_gets();
ok(get($fresh_id)->{content} eq $fresh, '... and read from');
is(metadata_gets(), $before, '... instead of the nodes');

$t->stop;
$t->stop_redis;

# --- AUTH and SELECT -----------------------------------------------------------

$t->start_redis('--requirepass', 'sesame');
$t->{redis_db} = 3;
$t->write_config(gateway => 1, redis => 1, http => $NO_MEMO .
                 "    walrus_redis_password sesame;\n    walrus_redis_db 3;\n"
                 . "    walrus_redis_prefix test:;\n")->run;
sleep 0.3;
my $secret = blob_of(5000, 99);
my $secret_id = $t->put_blob($secret);
ok(eventually(sub { $t->redis('EXISTS', "test:m:$secret_id") }),
   'with a password and db 3 the cache is written there');
$before = metadata_gets();
ok(get($secret_id)->{content} eq $secret, '... and read from there');
is(metadata_gets(), $before, '... instead of the nodes');
$t->stop;

$t->write_config(gateway => 1, redis => 1, http => $NO_MEMO .
                 "    walrus_redis_password wrong;\n")->run;
sleep 0.3;
my $other = blob_of(6000, 98);
my $other_id = $t->put_blob($other);
ok($other_id && get($other_id)->{content} eq $other && get($other_id)->{content} eq $other,
   'with a wrong password uploads and reads still succeed');
my @refused = grep { /redis refused AUTH/ }
              split /\n/, WalrusTest::read_file($t->error_log);
is(scalar @refused, 1, '... and the refusal is logged once');
$t->stop;
$t->stop_redis;

# --- the worker's own cache, without Redis ---------------------------------

sub reads_ask_nodes {
    my ($id, $content) = @_;
    my $before = metadata_gets();
    get($id)->{content} eq $content or die "wrong bytes for $id";
    return metadata_gets() > $before;
}

$t->write_config(gateway => 1, http => "    walrus_worker_cache_size 16k;\n"
                 . "    walrus_redis_certificate_ttl 2s;\n")->run;

my $hot = blob_of(3 * $S, 31);
my $hot_id = store_directly($hot);
ok(reads_ask_nodes($hot_id, $hot), 'worker cache: the first read asks the '
   . 'nodes for metadata');
ok(!reads_ask_nodes($hot_id, $hot), '... the next one does not');
sleep 2.2;
ok(reads_ask_nodes($hot_id, $hot),
   '... and the first after the certificate TTL does');

my $up = blob_of(2 * $S, 32);
my $up_id = $t->put_blob($up);
ok(!reads_ask_nodes($up_id, $up), 'a blob uploaded here is read without '
   . 'asking the nodes');

# a 16k cache holds about a dozen small entries; the oldest go first
my @many = map { blob_of(100 + $_, 40 + $_) } 1 .. 24;
my @many_ids = map { store_directly($_) } @many;
reads_ask_nodes($many_ids[$_], $many[$_]) for 0 .. $#many;
ok(!reads_ask_nodes($many_ids[-1], $many[-1]),
   'the most recent of 24 blobs is still remembered');
ok(reads_ask_nodes($many_ids[0], $many[0]), '... the oldest is not');

# an entry over an eighth of the cache is not kept
my $long = blob_of(12 * $S, 33);
my $long_id = store_directly($long);
ok(-s "$dir/direct/metadata" > 16 * 1024 / 8, 'a blob with large metadata');
reads_ask_nodes($long_id, $long);
ok(reads_ask_nodes($long_id, $long), '... is not kept by a 16k cache');
$t->stop;

$t->write_config(gateway => 1, http => $NO_MEMO)->run;
my $cold_id = store_directly($hot . 'x');
reads_ask_nodes($cold_id, $hot . 'x');
ok(reads_ask_nodes($cold_id, $hot . 'x'),
   'walrus_worker_cache_size 0: every read asks the nodes');
$t->stop;

done_testing();
