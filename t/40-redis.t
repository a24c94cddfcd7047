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

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $LOAD = $ENV{WALRUS_LOAD_SECONDS} // 30;

# the gateway of every section; the sections vary the http level
my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

# the Redis sections turn the worker's cache off, so that Redis is used
my $REDIS = <<'EOF';
    walrus_redis 127.0.0.1:%%REDIS_PORT%%;
    walrus_worker_cache_size 0;
EOF

# metadata requests the nodes saw
sub metadata_gets { $t->metadata_gets }

# the cache is written after the answer: eventually gives it a moment
# a blob stored on the nodes directly, past the gateway and its cache
sub store_directly {
    my ($content) = @_;
    WalrusTest::write_file("$dir/direct.bin", $content);
    my $id = `$WalrusTest::CTL -c $dir/committee.json encode $dir/direct.bin $dir/direct`;
    chomp $id;
    $t->store_directly($id, length $content, "$dir/direct") == $n
        or die "the nodes did not all confirm $id";
    return $id;
}

# --- Redis never started --------------------------------------------------

my $mark = $t->log_mark;
$t->write_config(gateway => $GATEWAY, http => $REDIS)->run;
my $blob = blob_of(3 * $S, 1);
my $id = $t->put_blob($blob);
ok($id, 'without Redis an upload succeeds');
blob_is($t->get_blob($id), $blob, '... and a read too');
blob_is($t->get_blob($id), $blob, '... twice');
my @outage = $t->log_lines($mark, qr/redis .* unavailable/);
is(scalar @outage, 1, 'the outage is logged once, not per request');
$t->stop;

# --- write-through, read-through ----------------------------------------

$t->start_redis;
$t->write_config(gateway => $GATEWAY, http => $REDIS)->run;
sleep 0.3;

my $blob2 = blob_of(5 * $S + 7, 2);
my $id2 = $t->put_blob($blob2);
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$id2")
                    && $t->redis('EXISTS', "walrus:c:$id2") }),
   'an upload writes metadata and certificate to Redis');
my $before = metadata_gets();
blob_is($t->get_blob($id2), $blob2, 'the blob reads back');
is(metadata_gets(), $before, '... without asking the nodes for metadata');

# the type sniffed at the upload, for HEAD and ranges after segment 0
sub head_type {
    my $res = $t->request('HEAD', $t->gateway_url . "/v1/blobs/$_[0]");
    return ($res->{headers}{'content-type'} // '',
            $res->{headers}{'content-security-policy'} // '');
}
my $type2 = $t->get_blob($id2)->{headers}{'content-type'};
ok(eventually(sub { ($t->redis('GET', "walrus:t:$id2") // '') eq $type2 }),
   "the upload writes the blob's type to Redis ($type2)");
is((head_type($id2))[0], $type2, '... and HEAD gives it');
$t->redis('SET', "walrus:t:$id2", 'application/x-evil');
is((head_type($id2))[0], '', 'a cached type the gateway never sniffs: ignored');
$t->redis('SET', "walrus:t:$id2", 'text/html; charset=utf-8');
is_deeply([ head_type($id2) ], [ 'text/html; charset=utf-8', 'sandbox' ],
          'a cached HTML type is served sandboxed');
$t->get_blob($id2);
ok(eventually(sub { ($t->redis('GET', "walrus:t:$id2") // '') eq $type2 }),
   '... and a read from segment 0 repairs it');

my $direct = store_directly(blob_of(2 * $S, 3));
ok(!$t->redis('EXISTS', "walrus:m:$direct"), 'a blob the cache has not seen');
$before = metadata_gets();
is($t->get_blob($direct)->{status}, 200, '... is read from the nodes');
ok(metadata_gets() > $before, '... asking them for its metadata');
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$direct") }),
   '... and is cached');
$before = metadata_gets();
is($t->get_blob($direct)->{status}, 200, 'the next read');
is(metadata_gets(), $before, '... comes from the cache');

# a negative entry is short-lived and cleared by an upload
my $later = blob_of(1000, 4);
my $later_id = $t->cli_blob_id($later);
is($t->get_blob($later_id)->{status}, 404, 'an unknown blob: 404');
my $ttl;
eventually(sub { ($ttl = $t->redis('TTL', "walrus:n:$later_id")) > 0 });
ok($ttl > 0 && $ttl <= 2, "... remembered for $ttl s");
$before = metadata_gets();
is($t->get_blob($later_id)->{status}, 404, '... and answered from the cache');
is(metadata_gets(), $before, '... without asking the nodes');
is($t->put_blob($later), $later_id, 'the blob is uploaded');
blob_is($t->get_blob($later_id), $later, '... and readable at once');

# a poisoned entry is refused and repaired: rewritten with the metadata
# the gateway verified, not merely deleted
my $verified = $t->redis('GET', "walrus:m:$id2");
ok($verified, 'the metadata entry of the upload');
my $poison = WalrusTest::read_file("$dir/direct/metadata");
isnt($poison, $verified, '... and another blob\'s metadata to poison it');
$t->redis('SET', "walrus:m:$id2", $poison);
$mark = $t->log_mark;
blob_is($t->get_blob($id2), $blob2,
        'a poisoned metadata entry: the right bytes');
like($t->log_since($mark), qr/does not verify; ignored/,
     '... the entry is logged as bad');
my $repaired;
eventually(sub { ($repaired = $t->redis('GET', "walrus:m:$id2") // '')
                 eq $verified });
ok(defined $repaired && $repaired eq $verified,
   '... and rewritten with the verified metadata')
    or diag(defined $repaired ? length($repaired) . ' bytes, '
            . ($repaired eq $poison ? 'still the poison' : 'other bytes')
            : 'the entry is gone');

# a certificate with a forged signature is refused, though a good one of
# the same blob was verified before
my $good = $t->redis('GET', "walrus:c:$id2");
my $forged = $good;
substr($forged, 60, 1) ^= "\x01";
$t->redis('SET', "walrus:c:$id2", $forged);
$before = metadata_gets();
blob_is($t->get_blob($id2), $blob2,
        'a forged cached certificate: the right bytes');
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
            my $r = $t->get_blob($ids[$j]);
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
blob_is($t->get_blob($fresh_id), $fresh, '... and read from');
is(metadata_gets(), $before, '... instead of the nodes');

$t->stop;
$t->stop_redis;

# --- AUTH and SELECT -----------------------------------------------------------

$t->start_redis('--requirepass', 'sesame');
$t->redis_db(3);
$t->write_config(gateway => $GATEWAY, http => $REDIS . <<'EOF')->run;
    walrus_redis_password sesame;
    walrus_redis_db 3;
    walrus_redis_prefix test:;
EOF
sleep 0.3;
my $secret = blob_of(5000, 99);
my $secret_id = $t->put_blob($secret);
ok(eventually(sub { $t->redis('EXISTS', "test:m:$secret_id") }),
   'with a password and db 3 the cache is written there');
$before = metadata_gets();
blob_is($t->get_blob($secret_id), $secret, '... and read from there');
is(metadata_gets(), $before, '... instead of the nodes');
$t->stop;

$mark = $t->log_mark;
$t->write_config(gateway => $GATEWAY, http => $REDIS . <<'EOF')->run;
    walrus_redis_password wrong;
EOF
sleep 0.3;
my $other = blob_of(6000, 98);
my $other_id = $t->put_blob($other);
ok($other_id, 'with a wrong password uploads succeed');
blob_is($t->get_blob($other_id), $other, '... and reads');
blob_is($t->get_blob($other_id), $other, '... twice');
my @refused = $t->log_lines($mark, qr/redis refused AUTH/);
is(scalar @refused, 1, '... and the refusal is logged once');
$t->stop;
$t->stop_redis;

# --- the worker's own cache, without Redis ---------------------------------

sub reads_ask_nodes {
    my ($id, $content) = @_;
    my $before = metadata_gets();
    $t->get_blob($id)->{content} eq $content or die "wrong bytes for $id";
    return metadata_gets() > $before;
}

$t->write_config(gateway => $GATEWAY, http => <<'EOF')->run;
    walrus_worker_cache_size 16k;
    walrus_redis_certificate_ttl 2s;
EOF

# two segments: an entry (with the blob's registration) within an eighth
my $hot = blob_of(2 * $S, 31);
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

$t->write_config(gateway => $GATEWAY, http => <<'EOF')->run;
    walrus_worker_cache_size 0;
EOF
my $cold_id = store_directly($hot . 'x');
reads_ask_nodes($cold_id, $hot . 'x');
ok(reads_ask_nodes($cold_id, $hot . 'x'),
   'walrus_worker_cache_size 0: every read asks the nodes');
$t->stop;

done_testing();
