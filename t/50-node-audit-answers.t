# The node's answers to its auditors (docs/protocol.md section 17,
# http-api.md 3.15): the files under <store>/audit served as they are,
# the round signature and the rule of 17.6 that gives it, the signed
# answer to a challenge (checked here with the core's parser and checker
# through build/tools/audit_tool), blobs the node cannot prove answered
# "not held", the recovery lock of 17.5 and the audit status.
#
# The keepers stay off: this test writes the audit files itself, beacons
# built by audit_tool with the nodes' keys, as a keeper would.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use Digest::SHA qw(sha256 sha256_hex);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $n = $t->n;
my $dir = $t->dir;
my $json = JSON::PP->new->canonical;
my $TOOL = "$WalrusTest::ROOT/build/tools/audit_tool";
my $committee = $t->committee;
my $HOUR = 3600;

# node 6 takes no part in rounds
$t->write_config(gateway => 1,
                 http => "    walrus_node_keeper off;\n"
                         . "    walrus_node_audit_interval 1h;\n",
                 node_server_extra => {
                     6 => 'walrus_node_audit_interval 0;' })->run;

sub get { $t->node_request($_[0], $_[2] // 'GET', $_[1]) }

sub data_of {
    my ($res) = @_;
    return eval { $json->decode($res->{content})->{success}{data} } // {};
}

sub is_error {
    my ($res, $status, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($res->{status} == $status && reason($res) eq $reason
       && $res->{headers}{'content-type'} eq 'application/json',
       "$name: $status $reason")
        or diag("$res->{status} $res->{content}");
}

sub audit_dir { $t->store($_[0]) . '/audit' }

sub put_file {
    my ($path, $bytes) = @_;
    (my $d = $path) =~ s{/[^/]+$}{};
    make_path($d);
    WalrusTest::write_file($path, $bytes);
}

# the beacon of round $r signed by @signers (default all) with the keys
sub beacon {
    my ($r, @signers) = @_;
    system($TOOL, 'beacon', $committee, "$dir/keys", $r, "$dir/beacon.$r",
           @signers) == 0 or die "audit_tool beacon $r failed";
    return WalrusTest::read_file("$dir/beacon.$r");
}

# node $i takes the beacon of round $r, as its keeper would
sub take {
    my ($i, $r, $bytes) = @_;
    put_file(audit_dir($i) . "/rounds/$r/beacon", $bytes);
    put_file(audit_dir($i) . '/latest', $bytes);
}

sub signature { get($_[0], "/v1/audit/rounds/$_[1]/signature") }

sub sig_valid {
    my ($node, $r, $sig) = @_;
    WalrusTest::write_file("$dir/sig", $sig);
    my $out = `$TOOL round-sig $committee $node $r $dir/sig`;
    return $? == 0 && $out eq "valid\n";
}

# --- three blobs through the gateway ----------------------------------

my @ids = map { $t->put_blob(blob_of($_->[0], $_->[1])) }
              ([3 * $S + 1234, 5], [2 * $S, 6], [1000, 7]);
ok(!grep({ !$_ } @ids), 'three blobs stored (4, 2 and 1 segments)');
my ($A, $B, $C) = @ids;
my %raw = map { $_ => $P->can('unb64url')->($_) } @ids;

sub node_status {
    my ($i, $bid) = @_;
    return data_of(get($i, "/v1/blobs/$bid/status"));
}

ok(eventually(sub {
       !grep { my $i = $_; grep { my $st = node_status($i, $_);
                                  !($st->{stored} && $st->{certified}) }
                               @ids } 0 .. $n - 1
   }, 5), 'every node holds its slivers and the certificates');

my @metas;
for my $id (@ids) {
    WalrusTest::write_file("$dir/$id.meta",
                           get(0, "/v1/blobs/$id/metadata")->{content});
    push @metas, "$dir/$id.meta";
}

sub pair_of { WalrusTest::Proto::shard_to_pair($raw{$_[1]}, $n, $_[0]) }

# --- the files, before any round --------------------------------------

is_error(get(1, '/v1/audit/beacon'), 404, 'AUDIT_NO_BEACON',
         'no beacon yet');
is_error(get(1, '/v1/audit/rounds/1/beacon'), 404, 'AUDIT_UNKNOWN_ROUND',
         'no beacon of round 1');
is_error(get(1, '/v1/audit/rounds/1/attestations/2'), 404,
         'AUDIT_NOT_ATTESTED', 'no attestation of node 2');
is_error(get(1, '/v1/audit/rounds/1/certificate'), 404,
         'AUDIT_NO_CERTIFICATE', 'no audit certificate');
is_error(get(1, '/v1/audit/rounds/1/frauds/2'), 404, 'AUDIT_NO_FRAUD',
         'no fraud proof');
is_error(get(1, '/v1/audit/rounds/1/attestations/7'), 404, 'NO_SUCH_PATH',
         'attestations of node 7 (not in the committee)');
is_error(get(1, '/v1/audit/rounds/0/beacon'), 404, 'NO_SUCH_PATH',
         'round 0');
is_error(get(1, '/v1/audit/rounds/1/beacon', 'PUT'), 405,
         'METHOD_NOT_ALLOWED', 'PUT');
is($t->get('/v1/audit/status')->{status}, 404,
   'the gateway has no /v1/audit/ routes');

my $st = data_of(get(1, '/v1/audit/status'));
is_deeply($st, { node => 1, epoch => 1, interval => $HOUR * 1000,
                 round => 0, leader => undef, seed => undef, taken => undef,
                 rounds => [] }, 'the status without audit files');

# --- the round signature (17.6) -----------------------------------------

my $res = signature(1, 1);
ok($res->{status} == 200
   && $res->{headers}{'content-type'} eq 'application/octet-stream'
   && length $res->{content} == 64, 'round 1 with no beacon: 64 bytes');
ok(sig_valid(1, 1, $res->{content}), '... node 1\'s round signature');
ok(!sig_valid(2, 1, $res->{content}), '... not node 2\'s');
is(signature(1, 1)->{content}, $res->{content}, '... the same bytes again');
$res = signature(1, 2);
is_error($res, 409, 'AUDIT_ROUND_NOT_OPEN',
         'round 2, an interval after the start');
like($res->{content}, qr/at round 0 .*round 2 may open here in 3\d\d\d s/,
     '... saying when');
is_error(signature(6, 1), 409, 'AUDITS_OFF',
         'a node with walrus_node_audit_interval 0');

my $b3 = beacon(3);
take(1, 3, $b3);
is(get(1, '/v1/audit/beacon')->{content}, $b3,
   'GET /v1/audit/beacon: audit/latest');
$res = get(1, '/v1/audit/rounds/3/beacon', 'HEAD');
ok($res->{status} == 200 && $res->{headers}{'content-length'} == length $b3
   && ($res->{content} // '') eq '', '... HEAD of the round\'s beacon');

for my $r (1, 2, 3) {
    is_error(signature(1, $r), 409, 'AUDIT_ROUND_NOT_OPEN',
             "at round 3, round $r");
}
$res = signature(1, 4);
ok($res->{status} == 200 && sig_valid(1, 4, $res->{content}),
   'at round 3, round 4: signed');
is_error(signature(1, 5), 409, 'AUDIT_ROUND_NOT_OPEN',
         'round 5 right after taking round 3');
$res = signature(1, 1000);
like($res->{content}, qr/round 1000 may open here in 358\d{4} s/,
     'round 1000: 996 intervals away');

# the beacon taken an interval and a half ago
utime time - 1.5 * $HOUR, time - 1.5 * $HOUR, audit_dir(1) . '/latest';
$res = signature(1, 5);
ok($res->{status} == 200 && sig_valid(1, 5, $res->{content}),
   'round 5 an interval after round 3 was taken: signed');
is_error(signature(1, 6), 409, 'AUDIT_ROUND_NOT_OPEN',
         '... round 6 not yet');

# a latest that is no beacon of this committee counts as none
put_file(audit_dir(5) . '/latest', 'garbage');
my $mark = $t->log_mark;
ok(sig_valid(5, 1, signature(5, 1)->{content}),
   'a latest that is no beacon: round 1 signed');
ok(scalar $t->log_lines($mark, qr/\[warn\].*audit beacon .*is not valid/),
   '... with a warning');
unlink audit_dir(5) . '/latest';

# --- answers (17.3) -------------------------------------------------------

sub answer {
    my ($i, $r, $list, $method) = @_;
    return get($i, "/v1/audit/rounds/$r/answer?blobs=$list", $method);
}

# audit_tool check: ([node, round, seed, count], {id => verdict}, [ids])
sub check {
    my ($bytes, $beacon) = @_;
    WalrusTest::write_file("$dir/answer", $bytes);
    WalrusTest::write_file("$dir/check.beacon", $beacon);
    my $out = `$TOOL check $committee $dir/check.beacon $dir/answer @metas`;
    my @head = $out =~ /^node (\d+) round (\d+) seed (\w+) blobs (\d+)$/m;
    my @lines = map { [ split ' ' ] } grep { /^[\w-]{43} \w+$/ }
                split /\n/, $out;
    return (\@head, { map { @$_ } @lines }, [ map { $_->[0] } @lines ]);
}

$res = answer(1, 3, "$C,$A,$B");
ok($res->{status} == 200
   && $res->{headers}{'content-type'} eq 'application/octet-stream',
   'an answer of round 3 on three blobs');
my ($head, $verdict, $order) = check($res->{content}, $b3);
is("@$head", '1 3 same 3', '... signed by node 1, round 3, its seed');
is("@$order", "$C $A $B", '... the blobs in the order asked');
is_deeply($verdict, { $A => 'passed', $B => 'passed', $C => 'passed' },
          '... every entry verifies') or diag(explain $verdict);
my ($ver, $epoch, $round, $node, $seed, $count) =
    unpack 'C V V v a32 v', $res->{content};
ok($ver == 1 && $epoch == 1 && $round == 3 && $node == 1
   && $seed eq sha256("walrus-audit-seed:1$b3") && $count == 3,
   '... its header bytes');
is(answer(1, 3, "$C,$A,$B")->{content}, $res->{content},
   '... the same bytes again');
my $got = answer(1, 3, "$C,$A,$B", 'HEAD');
ok($got->{status} == 200 && ($got->{content} // '') eq ''
   && $got->{headers}{'content-length'} == length $res->{content},
   '... HEAD: its length');

# walrusctl audit, a verifier of its own: the beacon from the node, the
# answer, each blob against its metadata
my $audit = "$WalrusTest::CTL -c $committee audit node1 --round 3";
my $out = `$audit --blobs $C,$A,$B 2>&1`;
ok($? == 0 && $out =~ /^node node1 round 3: passed$/m,
   'walrusctl audit node1 --round 3: passed') or diag($out);

# a tampered answer does not pass the check: the checker can fail
my $tampered = $res->{content};
substr($tampered, 60, 1) ^= "\x01";
($head) = check($tampered, $b3);
ok(!@$head, 'a changed byte: the signature does not verify');

my $b4 = beacon(4);
is_error(answer(1, 4, $A), 409, 'AUDIT_UNKNOWN_ROUND',
         'an answer of a round whose beacon the node lacks');
is_error(answer(2, 3, $A), 409, 'AUDIT_UNKNOWN_ROUND',
         '... node 2 has none of round 3');

my $unknown = $P->can('b64url')->("\x07" x 32);
my @many = map { $P->can('b64url')->(sha256("blob $_")) } 1 .. 65;

my @lists = (
    [ 'blobs= missing', '/v1/audit/rounds/3/answer' ],
    [ 'blobs= empty', '/v1/audit/rounds/3/answer?blobs=' ],
    [ 'an empty item', "/v1/audit/rounds/3/answer?blobs=$A,,$B" ],
    [ 'a trailing comma', "/v1/audit/rounds/3/answer?blobs=$A," ],
    [ 'a blob twice', "/v1/audit/rounds/3/answer?blobs=$A,$B,$A" ],
    [ 'no blob ID', "/v1/audit/rounds/3/answer?blobs=$A,xyz" ],
    [ 'an encoded comma', "/v1/audit/rounds/3/answer?blobs=$A%2C$B" ],
    [ '65 blobs', '/v1/audit/rounds/3/answer?blobs=' . join ',', @many ],
);
for my $l (@lists) {
    is_error(get(1, $l->[1]), 400, 'AUDIT_INVALID_BLOBS', $l->[0]);
}

$res = answer(1, 3, join ',', @many[0 .. 63]);
($head, $verdict) = check($res->{content}, $b3);
ok($res->{status} == 200 && $head->[3] == 64
   && !grep({ $_ ne 'missing' } values %$verdict),
   '64 blobs it never held: each not held');

# a deleted sliver, a flipped byte: not held, and the rest still passes
my $k = pair_of(1, $B);
unlink $t->store(1) . "/$B/$k.primary" or die "unlink: $!";
my $kc = pair_of(1, $C);
my $cpath = $t->store(1) . "/$C/$kc.secondary";
my $sliver = WalrusTest::read_file($cpath);
substr($sliver, 3, 1) ^= "\x01";
WalrusTest::write_file($cpath, $sliver);

$mark = $t->log_mark;
$res = answer(1, 3, "$A,$B,$C,$unknown");
($head, $verdict) = check($res->{content}, $b3);
is_deeply($verdict, { $A => 'passed', $B => 'missing', $C => 'missing',
                      $unknown => 'missing' },
          'a deleted sliver, a flipped byte, an unknown blob: not held, '
          . 'the other blob passes') or diag(explain $verdict);
ok(scalar $t->log_lines($mark, qr/\[info\].*round 3: this node cannot prove blob \Q$B\E.*$k\.primary/),
   '... the node says which blob it cannot prove and why');
ok(scalar $t->log_lines($mark, qr/\[info\].*cannot prove blob \Q$C\E.*does not match/),
   '... also the blob with the flipped byte');
ok(-e $cpath, '... whose file is left for the scrubber');
$out = `$audit --blobs $A,$B 2>&1`;
ok($? >> 8 == 1 && $out =~ /^\Q$B\E missing/m
   && $out =~ /^node node1 round 3: missing$/m,
   'walrusctl audit: missing, naming the blob') or diag($out);

# an answer over 64 MiB: blobs of 256 MiB segments, metadata only
sub fake {
    my ($len) = @_;
    my $segs = int(($len + 268435455) / 268435456);
    my $meta = pack('C C v V Q<', 1, 1, $n, 268435456, $len)
        . ("\x00" x ($segs * $n * 64));
    my $seg_root = $P->can('root')->(map { $P->can('leaf')->("\x00" x 64) }
                                     1 .. $n);
    my $raw = sha256(substr($meta, 0, 16)
                     . $P->can('root')->(map { $P->can('leaf')->($seg_root) }
                                         1 .. $segs));
    my $id = $P->can('b64url')->($raw);
    put_file($t->store(1) . "/$id/metadata", $meta);
    return $id;
}

my @big = (fake(4 * 268435456 - 5), fake(4 * 268435456 - 6));
$res = answer(1, 3, join ',', @big);
is_error($res, 413, 'AUDIT_ANSWER_TOO_LARGE', 'two blobs of 256 MiB symbols');
like($res->{content}, qr/more than the 67108864 allowed: ask fewer blobs/,
     '... ask fewer');
$res = answer(1, 3, $big[0]);
($head, $verdict) = check($res->{content}, $b3);
ok($res->{status} == 200 && $verdict->{$big[0]} eq 'missing',
   '... one fits (and is not held: no slivers)');

# --- the recovery lock (17.5) -------------------------------------------

my $target = pair_of(3, $A);
my $locks = audit_dir(2) . '/locks';
put_file($locks, pack('a32 v v V', $raw{$B}, $target, 3, 3)
                 . pack('a32 v v V', $raw{$A}, $target, 3, 3)
                 . pack('a32 v v V', $raw{$A}, pair_of(4, $A), 4, 2));

sub recovery { get(2, "/v1/blobs/$_[0]/recovery/$_[1]?segments=0") }

$res = recovery($A, $target);
is_error($res, 409, 'AUDIT_LOCKED', 'a locked pair');
like($res->{content},
     qr/pair $target of blob \Q$A\E is challenged in audit round 3 of node 3/,
     '... naming the pair, the blob, the round and the node');
is(recovery($A, pair_of(5, $A))->{status}, 200,
   '... another pair of the blob: served');
is(recovery($C, $target)->{status}, 200,
   '... the same pair of another blob: served');
is_error(recovery($A, pair_of(4, $A)), 409, 'AUDIT_LOCKED',
         'the last entry locks too');

put_file($locks, 'x' x 41);
is_error(recovery($C, $target), 500, 'STORE_ERROR',
         'a lock file that is no lock file: refused');
unlink $locks;
is(recovery($A, $target)->{status}, 200, 'no lock file: served');

# --- the files and the status -------------------------------------------

my $d3 = audit_dir(1) . '/rounds/3';
put_file("$d3/attest.0", 'a' x 64);
put_file("$d3/attest.4", 'b' x 64);
put_file("$d3/certificate", 'certificate bytes');
put_file("$d3/fraud.6", 'fraud bytes');
put_file("$d3/missing.5", "$B\nnot-a-blob\n$C, $A");
put_file("$d3/other", 'another beacon');
put_file("$d3/.tmp.attest.2.123.0", 'a file being written');
put_file(audit_dir(1) . '/rounds/2/attest.2', 'c' x 64);
put_file(audit_dir(1) . '/rounds/2/missing.9', "$B\n");

is(get(1, '/v1/audit/rounds/3/attestations/4')->{content}, 'b' x 64,
   'an attestation given');
is(get(1, '/v1/audit/rounds/3/certificate')->{content}, 'certificate bytes',
   'the node\'s own certificate');
is(get(1, '/v1/audit/rounds/3/frauds/6')->{content}, 'fraud bytes',
   'a fraud proof');

$st = data_of(get(1, '/v1/audit/status'));
is_deeply($st, {
    node => 1, epoch => 1, interval => $HOUR * 1000, round => 3,
    leader => 3, seed => sha256_hex("walrus-audit-seed:1$b3"),
    taken => (stat audit_dir(1) . '/latest')[9],
    rounds => [
        { round => 3, beacon => JSON::PP::true,
          certificate => JSON::PP::true, attested => [0, 4],
          missing => [ { node => 5, blobs => [$B, $C, $A] } ],
          frauds => [6], equivocation => JSON::PP::true },
        { round => 2, beacon => JSON::PP::false,
          certificate => JSON::PP::false, attested => [2],
          missing => [], frauds => [], equivocation => JSON::PP::false },
    ] }, 'the status: the latest beacon and each round\'s files')
    or diag(explain $st);

make_path(map { audit_dir(1) . "/rounds/$_" } 10 .. 30, '007', 'x');
$st = data_of(get(1, '/v1/audit/status'));
is_deeply([ map { $_->{round} } @{$st->{rounds}} ], [ reverse 15 .. 30 ],
          'at most 16 rounds, the newest first');

$t->stop;

done_testing();
