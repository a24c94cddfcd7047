# The gateway's view of the storage audits, GET /v1/audits: only what it
# verified counts.  First against nodes that are files (their audit
# routes served by nginx from directories the test writes, with beacons
# from t/tools/audit_tool, certificates and a fraud proof from
# t/tools/audit_forge, all made with the nodes' keys): the newest valid
# beacon wins over a lie, a garbage certificate or status is no
# certificate, a node down is unknown, what peers report is labelled so,
# the kept bytes verify with walrusctl verify-audit, a view is cached,
# and Redis keeps what was verified across a restart and is not believed
# blindly.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Path qw(make_path remove_tree);
use JSON::PP;
use Time::HiRes qw(sleep);
use WalrusTest;

my ($FORGE, $TOOL) = map { "$WalrusTest::ROOT/build/tools/$_" }
                     qw(audit_forge audit_tool);
-x $FORGE && -x $TOOL or plan skip_all => 'the audit tools are not built: '
                                         . 'run make';

my $t = WalrusTest->new(n => 7, segment_size => 4096);
my ($n, $dir) = ($t->n, $t->dir);
my $json = JSON::PP->new->canonical;

# nodes whose audit routes are files under DIR/fake<i>
my $FAKE = <<'EOF';
        location /v1/audit/ {
            root %%DIR%%/fake%%NODE%%;
            default_type application/octet-stream;
        }
EOF

# audit_forge's output, or undef when it fails
sub forge {
    my $out = `$FORGE @_ 2>/dev/null`;
    return $? == 0 ? $out : undef;
}

# what walrusctl verify-audit says a file is, or 'invalid'
sub check {
    my $out = `$WalrusTest::CTL -c $dir/committee.json verify-audit $_[0] 2>&1`;
    return 'invalid' if $?;
    return "beacon $1" if $out =~ /^beacon: round (\d+)/;
    return "certificate $1 $2"
        if $out =~ /^audit certificate: node node(\d+) round (\d+)/;
    return "fraud $1 $2 $3"
        if $out =~ /^fraud proof: node node(\d+) round (\d+) blob (\S+)/;
    return "unknown: $out";
}

sub fake { "$dir/fake$_[0]/v1/audit" }

sub put {
    my ($i, $path, $bytes) = @_;
    my $file = fake($i) . "/$path";
    make_path($file =~ s{/[^/]+$}{}r);
    WalrusTest::write_file($file, $bytes);
}

# a node's audit status, as docs/http-api.md 3.15 has it
sub status {
    my ($i, @rounds) = @_;
    return $json->encode({ success => { code => 200, data => {
        node => $i, epoch => 1, interval => 2000, round => 5, leader => 5,
        rounds => [ map { { certificate => JSON::PP::true, attested => [],
                            missing => [], frauds => [], %$_ } } @rounds ],
    } } });
}

sub audits {
    my $res = $t->get('/v1/audits');
    my $d = eval { $json->decode($res->{content}) };
    return $res->{status} == 200 && $d ? $d->{success}{data} : undef;
}

sub node_of { my ($v, $i) = @_; return (grep { $_->{node} == $i }
                                        @{$v->{nodes}})[0] }

sub status_gets {
    my $count = 0;
    $count += grep { m{^GET /v1/audit/status } } $t->node_access($_)
        for 0 .. $n - 1;
    return $count;
}

# --- the bytes ------------------------------------------------------------

my %beacon;
for my $r (3 .. 6) {
    system($TOOL, 'beacon', $t->committee, "$dir/keys", $r, "$dir/beacon$r");
    $beacon{$r} = WalrusTest::read_file("$dir/beacon$r");
}
is(check("$dir/beacon5"), 'beacon 5', 'audit_tool makes valid beacons');

my %cert = map { $_ => forge('cert', $t->committee, "$dir/keys",
                             "$dir/beacon5", $_) } 0 .. $n - 1;
WalrusTest::write_file("$dir/cert1", $cert{1});
is(check("$dir/cert1"), 'certificate 1 5', 'audit_forge makes certificates');

my $id = $t->encode(WalrusTest::blob_of(9000, 3));
my $fraud = forge('fraud', $t->committee, "$dir/keys", "$dir/beacon5", 5,
                  $t->{encoded}{$id}, $id);
WalrusTest::write_file("$dir/fraud", $fraud);
is(check("$dir/fraud"), "fraud 5 5 $id", '... and a fraud proof of node 5');

# a beacon that claims round 9 but is round 5's: it does not verify
my $liar = $beacon{5};
substr($liar, 5, 4) = pack('V', 9);

# node 0: status garbage; 1: reports 4 missing a blob and holds a fraud
# proof against 5; 3: certificate garbage; 4: none (404); 5: none, the
# lying beacon; 6: down
for my $i (0 .. 5) {
    put($i, 'beacon', $i == 5 ? $liar : $i == 4 ? $beacon{3} : $beacon{5});
    put($i, 'rounds/5/certificate', $i == 3 ? 'x' x length $cert{3}
                                            : $cert{$i})
        unless $i == 4 || $i == 5;
    put($i, 'status', $i == 0 ? '{"success":' : status($i, {
        round => 5,
        $i == 1 ? (missing => [ { node => 4, blobs => [ $id, 'nonsense' ] },
                                { node => 1, blobs => [ $id ] } ],
                   frauds => [ 5 ]) : () }));
}
put(1, 'rounds/5/frauds/5', $fraud);

# --- the view -------------------------------------------------------------

$t->write_config(gateway => 1, node => $FAKE, down => [6])->run;

my $v = audits();
ok($v, 'GET /v1/audits answers JSON') or diag(explain($t->get('/v1/audits')));
is($v->{round}, 5, 'the newest round is the newest valid beacon\'s, not a '
   . 'lie of round 9');
is_deeply([ @$v{qw(epoch leader oldestRound)} ], [ 1, 5, 2 ],
          '... with the epoch, the leader and the window');
is(scalar @{$v->{nodes}}, $n, 'every committee node is listed');

my %want = (0 => 'true', 1 => 'true', 2 => 'true', 3 => 'null',
            4 => 'false', 5 => 'false', 6 => 'null');
for my $i (0 .. $n - 1) {
    my $s = node_of($v, $i);
    my $c = defined $s->{certified} ? ($s->{certified} ? 'true' : 'false')
                                    : 'null';
    is($c, $want{$i}, "node $i: certified $want{$i}");
}

is(node_of($v, 3)->{certifiedRound}, undef,
   'a certificate that does not verify is not taken: node 3 unknown');
is_deeply(node_of($v, 1)->{certificates}, [ 5 ],
          'node 1: the rounds of the certificates the gateway holds');
is(node_of($v, 1)->{certifiedRound}, 5, '... the newest of them');
ok(!node_of($v, 0)->{answered} && node_of($v, 1)->{answered},
   'a status that does not parse: not answered');
ok(!node_of($v, 6)->{answered} && !defined node_of($v, 6)->{certifiedRound},
   'a node down: unknown, not failed');
is_deeply(node_of($v, 4)->{reportedMissing},
          [ { round => 5, reporter => 1, blob => $id } ],
          'node 4: the blob its peer reports missing, named as reported');
is_deeply(node_of($v, 1)->{reportedMissing}, [],
          '... and a node reporting itself is not taken');
is_deeply(node_of($v, 5)->{frauds}, [ { round => 5, blob => $id } ],
          'node 5: the verified fraud proof against it');
is_deeply([ map { scalar @{node_of($v, $_)->{frauds}} } 0 .. 4, 6 ],
          [ (0) x 6 ], '... and against no other node');

# --- the kept bytes -------------------------------------------------------

my $res = $t->get('/v1/audits/1/rounds/5/certificate');
ok($res->{status} == 200 && $res->{content} eq $cert{1},
   'the gateway serves the certificate it verified');
WalrusTest::write_file("$dir/got", $res->{content});
is(check("$dir/got"), 'certificate 1 5', '... which verifies');
$res = $t->get('/v1/audits/5/frauds/5');
WalrusTest::write_file("$dir/got", $res->{content});
is(check("$dir/got"), "fraud 5 5 $id", 'and the fraud proof');

is(reason($t->get('/v1/audits/3/rounds/5/certificate')),
   'AUDIT_NO_CERTIFICATE', 'no certificate of node 3: 404');
is(reason($t->get('/v1/audits/2/frauds/5')), 'AUDIT_NO_FRAUD',
   'no fraud proof against node 2: 404');
is(reason($t->get("/v1/audits/$n/rounds/5/certificate")), 'NO_SUCH_PATH',
   'a node outside the committee: 404');
is(reason($t->get('/v1/audits/1/rounds/0/certificate')), 'NO_SUCH_PATH',
   'round 0: 404');
is($t->request('PUT', $t->gateway_url . '/v1/audits', 'x')->{status}, 405,
   'PUT /v1/audits: 405');

# a node that deletes its certificate does not take it from the gateway
unlink fake(1) . '/rounds/5/certificate';
is($t->get('/v1/audits/1/rounds/5/certificate')->{content}, $cert{1},
   'a certificate its node deleted is still served');

# --- the result cache -----------------------------------------------------

my $gets = status_gets();
audits() for 1 .. 5;
is(status_gets(), $gets, 'a fresh view is served without asking the nodes');
sleep 3.2;
audits();
is(status_gets(), $gets + $n - 1, '... and an old one asks them again');

put(2, 'beacon', $beacon{6});
sleep 3.2;
$v = audits();
is($v->{round}, 6, 'a newer beacon moves the view on');
is_deeply([ map { node_of($v, $_)->{certifiedRound} } 1, 2 ], [ 5, 5 ],
          '... the certificates of older rounds still count');
ok(!node_of($v, 2)->{certified}, '... but not for round 6');
$t->stop;

# --- Redis ----------------------------------------------------------------

SKIP: {
    skip 'no redis-server', 8 unless `which redis-server` =~ /\S/;

    $t->start_redis;
    $t->write_config(gateway => 1, node => $FAKE, down => [6],
                     redis => 1)->run;
    sleep 0.3;
    put(1, 'rounds/5/certificate', $cert{1});

    audits();
    ok(WalrusTest::eventually(sub {
           ($t->redis('GET', 'walrus:audit:cert:1:1:5') // '') eq $cert{1}
           && ($t->redis('GET', 'walrus:audit:fraud:1:5:5') // '') eq $fraud
       }), 'what the gateway verified goes to Redis');
    is_deeply($t->redis('SMEMBERS', 'walrus:audit:frauds:1'), [ '5:5' ],
              '... with the list of fraud proofs');
    ok(!defined $t->redis('GET', 'walrus:audit:cert:1:3:5'),
       '... and what did not verify does not');

    # the nodes lose it all; a poisoned entry for node 2
    remove_tree("$dir/fake$_") for 0 .. 5;
    put($_, 'beacon', $beacon{5}) for 0 .. 5;
    $t->redis('SET', 'walrus:audit:cert:1:2:5', 'x' x length $cert{2});
    my $mark = $t->log_mark;
    $t->restart;
    sleep 0.3;

    $v = audits();
    is_deeply([ map { node_of($v, $_)->{certifiedRound} } 0, 1, 3 ],
              [ 5, 5, undef ],
              'after a restart the certificates come back from Redis');
    ok(!node_of($v, 2)->{certified},
       '... but not one Redis holds that does not verify');
    is(scalar $t->log_lines($mark, qr/node 2, round 5, kept in Redis does/),
       1, '... which is logged');
    is_deeply(node_of($v, 5)->{frauds}, [ { round => 5, blob => $id } ],
              '... and the fraud proof too');
    is($t->get('/v1/audits/5/frauds/5')->{content}, $fraud,
       '... whose bytes are served');
    $t->stop;
    $t->stop_redis;
}

# --- nodes whose keepers run the rounds ---------------------------------

# a keeper round every 300 ms, an audit round every 2 s; then the rounds
# stop (interval 0: the nodes still serve what they hold) so that what
# the view shows can be set up without a new round racing the test
my $LIVE = <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_node_audit_interval 2s;
EOF
(my $FROZEN = $LIVE) =~ s/2s;/0;/;
my $redis = `which redis-server` =~ /\S/;

# each node with its own beacon, audit status and files again
remove_tree("$dir/fake$_") for 0 .. $n - 1;
$t->start_redis if $redis;
$t->write_config(gateway => 1, http => $LIVE, redis => $redis)->run;
# a node is challenged on the blobs whose certificates it signed, and a
# PUT answers at the quorum: a node slow at every PUT (a loaded machine)
# would promise nothing and have no certificate to show, so blobs are
# stored until every node signed one
my (%signed, $stored);
for my $k (1 .. 20) {
    my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs',
                          WalrusTest::blob_of(5000 + $k, $k));
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    my $signers = $d->{newlyCreated}{certificate}{signers} or next;
    $stored++;
    $signed{$_} = 1 for @$signers;
    last if $stored >= 3 && keys %signed == $n;
}
ok($stored >= 3 && keys %signed == $n,
   "blobs stored ($stored), every node signed one");

# rounds have no deadline: a view may come before the certificates of
# its newest round, so each node is to be seen certified in some view
my (%seen, $last);
ok(WalrusTest::eventually(sub {
       $v = audits() or return 0;
       $last = $v;
       $seen{$_->{node}} ||= $_->{certified} for @{$v->{nodes}};
       return (grep { $seen{$_} } 0 .. $n - 1) == $n;
   }, 60), 'every node shows certified after some rounds')
    or diag(explain($last));
ok((grep { defined $_->{certifiedRound}
           && $_->{certifiedRound} >= $v->{oldestRound} } @{$v->{nodes}})
   == $n, '... and holds a certificate of the newest rounds');

for my $i (0, $n - 1) {
    my $r = node_of($v, $i)->{certifiedRound} // 0;
    $res = $t->get("/v1/audits/$i/rounds/$r/certificate");
    WalrusTest::write_file("$dir/got", $res->{content});
    is(check("$dir/got"), "certificate $i $r",
       "node $i: the certificate of round $r the gateway serves verifies");
}

# node 3's certificates all garbage, node 5 down, no more rounds
my ($GARBLED, $DOWN) = (3, 5);
$t->stop;
my $garbled = 0;
for my $c (glob($t->store($GARBLED) . '/audit/rounds/*/certificate')) {
    WalrusTest::write_file($c, 'x' x -s $c);
    $garbled++;
}
ok($garbled, "node ${GARBLED}'s $garbled certificates replaced by garbage");

SKIP: {
    skip 'no redis-server', 2 unless $redis;

    $t->write_config(gateway => 1, http => $FROZEN, redis => 1,
                     down => [ $DOWN ])->run;
    $v = audits();
    ok(defined node_of($v, $GARBLED)->{certifiedRound}
       && defined node_of($v, $DOWN)->{certifiedRound},
       'after a restart, Redis keeps what the gateway verified of a node '
       . 'that garbled its certificates and of a node down');
    ok(!node_of($v, $DOWN)->{answered}, '... which did not answer');
    $t->stop;
    $t->redis('FLUSHALL');
}

$t->write_config(gateway => 1, http => $FROZEN, down => [ $DOWN ])->run;
$v = audits();
is(node_of($v, $GARBLED)->{certifiedRound}, undef,
   "without Redis, node ${GARBLED}'s garbage is no certificate");
ok(!node_of($v, $GARBLED)->{certified}, '... it does not show certified');
ok(node_of($v, $GARBLED)->{answered}, '... though it answered');
ok(!defined node_of($v, $DOWN)->{certified}
   && !node_of($v, $DOWN)->{answered},
   "node $DOWN, down: unknown, not failed");
is(scalar(grep { defined $_->{certifiedRound} } @{$v->{nodes}}), $n - 2,
   'the others show their verified certificates');
$t->stop;
$t->stop_redis if $redis;

done_testing();
