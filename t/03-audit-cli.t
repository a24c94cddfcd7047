#!/usr/bin/perl
#
# walrusctl verify-audit and walrusctl audit (protocol section 17), on the
# files t/tools/audit_sample writes: a beacon, an audit certificate and a
# fraud proof checked offline, corrupted copies refused; `audit` run
# against a fake node that serves the sample's beacon, record, answers
# and metadata (passed, missing, fraud with its proof, refusals), and
# its command line errors.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use IO::Socket::INET;
use POSIX ();

use lib 't/lib';
use WalrusTest ();

my $ctl = File::Spec->rel2abs('build/walrusctl');
my $tool = File::Spec->rel2abs('build/tools/audit_sample');

for ($ctl, $tool) {
    next if -x $_;
    fail("$_ exists and is executable (run `make all` from the repo root)");
    done_testing();
    exit 1;
}

my $dir = tempdir('walrus-audit-cli-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $committee = "$dir/committee.json";

sub slurp { WalrusTest::read_file(@_) }
sub spew { WalrusTest::write_file(@_) }

# runs walrusctl; returns (exit code, stdout, stderr)
sub run { WalrusTest::capture({}, $dir, $ctl, @_) }

sub ctl { return run('-c', $committee, @_) }

# ---------------------------------------------------------- a fake node

# Every node of the sample's committee is this server: it answers the
# routes walrusctl audit asks from the sample's files; "$dir/mode" names
# the answer file it serves.

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $url = 'http://127.0.0.1:' . $listen->sockport;

my $out = `$tool $dir $url`;
is($?, 0, 'audit_sample wrote the files');
chomp $out;
my $query = slurp("$dir/query");
is($out, $query, '... and printed the challenged blob IDs');
my @ids = split /,/, $query;
is(scalar @ids, 2, 'node2 is challenged on the 2 blobs it promised');

sub error_json {
    my ($code, $reason, $message) = @_;
    return ($code, '{"error":{"code":' . $code . ',"status":"' . $reason
            . '","message":"' . $message . '"}}', 'application/json');
}

sub route {
    my ($path) = @_;
    my $mode = slurp("$dir/mode") // 'answer';
    my $record = slurp("$dir/certified");
    my $end = 32 + length $record;

    if ($path =~ m{^/v1/audit/(?:beacon|rounds/7/beacon)$}) {
        return (200, slurp("$dir/beacon"));
    }

    if ($path =~ m{^/v1/certified\?after=(\d+)&limit=\d+$}) {
        return (200, $record, undef, $end) if $1 == 32;
        return (200, '', undef, $end) if $1 == $end;
        return error_json(400, 'BAD_CURSOR', 'no entry there');
    }

    if ($path =~ m{^/v1/audit/rounds/7/answer\?blobs=(.*)$}) {
        return error_json(400, 'BAD_BLOBS', "not the blobs of the sample")
            unless $1 eq $query;
        return error_json(409, 'AUDIT_BEACON', 'no beacon of round 7 yet')
            if $mode eq '409';
        return (200, slurp("$dir/$mode"));
    }

    if ($path =~ m{^/v1/blobs/([A-Za-z0-9_-]{43})/metadata$}
        && -f "$dir/meta/$1")
    {
        return (200, slurp("$dir/meta/$1"));
    }

    return error_json(404, 'NOT_FOUND', "no route $path");
}

my $server = fork;
die "fork: $!" unless defined $server;

if ($server == 0) {
    while (my $c = $listen->accept) {
        my $line = <$c> // '';
        while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
        my ($path) = $line =~ m{^GET (\S+) HTTP/1\.[01]\r?\n$};
        my ($code, $body, $type, $next) = route($path // '');
        print $c "HTTP/1.0 $code X\r\nConnection: close\r\n"
            . 'Content-Type: ' . ($type // 'application/octet-stream')
            . "\r\nContent-Length: " . length($body) . "\r\n"
            . (defined $next ? "X-Walrus-Next: $next\r\n"
                               . "X-Walrus-Record: 00112233\r\n" : '')
            . "\r\n" . $body;
        close $c;
    }
    POSIX::_exit(0);
}

close $listen;

END {
    local $?;
    if ($server) { kill 'TERM', $server; waitpid $server, 0 }
}

# ------------------------------------------------------- verify-audit

my ($rc, $o, $e) = ctl('verify-audit', "$dir/beacon");
is($rc, 0, 'verify-audit accepts the beacon') or diag $e;
like($o, qr/^beacon: round 7 epoch 1 leader node1 signed by 4 nodes seed [0-9a-f]{64}\n\z/,
     '... and names its round, epoch, leader, signers and seed');
my ($seed) = $o =~ /seed ([0-9a-f]+)/;

($rc, $o, $e) = ctl('verify-audit', "$dir/certificate");
is($rc, 0, 'verify-audit accepts the audit certificate') or diag $e;
is($o, "audit certificate: node node2 round 7 epoch 1 attested by 5 nodes "
       . "seed $seed\n", '... node, round, epoch, attesters, the seed');

($rc, $o, $e) = ctl('verify-audit', "$dir/fraud");
is($rc, 0, 'verify-audit accepts the fraud proof') or diag $e;
is($o, "fraud proof: node node2 round 7 blob $ids[0]\n",
   '... naming the node, the round and the blob');

# corrupted copies: (file, offset from the start or the end, message)

my $beacon = slurp("$dir/beacon");
my $cert = slurp("$dir/certificate");
my $fraud = slurp("$dir/fraud");

sub flipped {
    my ($data, $at) = @_;
    substr($data, $at, 1) = chr(ord(substr($data, $at, 1)) ^ 0x20);
    return $data;
}

my @bad = (
    [ 'beacon, a round signature', flipped($beacon, 13 + 2 + 5),
      qr/a signature of the beacon does not verify/ ],
    [ "beacon, the leader's signature", flipped($beacon, -3),
      qr/a signature of the beacon does not verify/ ],
    [ 'beacon, the leader field', flipped($beacon, 9),
      qr/not a valid beacon for this committee: .*leader/ ],
    [ 'beacon, one byte short', substr($beacon, 0, -1),
      qr/not a beacon, an audit certificate or a fraud proof/ ],
    [ 'beacon, version 2', "\x02" . substr($beacon, 1),
      qr/not a beacon, an audit certificate or a fraud proof/ ],
    [ 'certificate, an attestation', flipped($cert, -1),
      qr/a signature of the audit certificate does not verify/ ],
    [ 'certificate, the seed', flipped($cert, 20),
      qr/a signature of the audit certificate does not verify/ ],
    [ 'certificate, the node is an attester', flipped($cert, 9),
      qr/not a valid audit certificate for this committee/ ],
    [ 'certificate, one attester only', substr($cert, 0, 43) . "\x01\x00"
      . substr($cert, 45, 66), qr/hold fewer than n - f = 5 shards/ ],
    [ 'fraud proof, the answer', flipped($fraud, 24 + length($beacon) + 4
                                                 + 100),
      qr/a signature of the fraud proof does not verify/ ],
    [ 'fraud proof, the beacon', flipped($fraud, 24 + 20),
      qr/a signature of the fraud proof does not verify/ ],
    [ 'fraud proof, the metadata', flipped($fraud, -5),
      qr/the answer holds no blob with the ID of its metadata/ ],
    [ 'fraud proof, cut short', substr($fraud, 0, -1),
      qr/not a valid fraud proof for this committee: its framing/ ],
    [ 'garbage', 'x' x 200,
      qr/not a beacon, an audit certificate or a fraud proof/ ],
    [ 'an empty file', '',
      qr/not a beacon, an audit certificate or a fraud proof/ ],
);

for my $bad (@bad) {
    my ($what, $data, $why) = @$bad;
    spew("$dir/bad", $data);
    ($rc, $o, $e) = ctl('verify-audit', "$dir/bad");
    is($rc, 1, "$what: refused");
    like($e, $why, '... saying why');
    is($o, '', '... nothing on stdout');
}

# a proof of the honest answer proves nothing

my $answer = slurp("$dir/answer");
my $meta = slurp("$dir/meta/$ids[0]");
spew("$dir/bad", 'walrus-audit-fraud:1' . pack('V', length $beacon) . $beacon
     . pack('V', length $answer) . $answer . pack('V', length $meta) . $meta);
($rc, $o, $e) = ctl('verify-audit', "$dir/bad");
is($rc, 1, 'a fraud proof of an honest answer: refused');
like($e, qr/every entry of its blob checks/, '... its entries check');

# another epoch

(my $json = slurp($committee)) =~ s/"epoch":1/"epoch":2/;
spew("$dir/epoch2.json", $json);
($rc, $o, $e) = run('-c', "$dir/epoch2.json", 'verify-audit', "$dir/beacon");
is($rc, 1, 'a beacon of epoch 1, the committee at epoch 2: refused');
like($e, qr/the beacon is of epoch 1, the committee is at epoch 2/,
     '... saying so');
($rc, $o, $e) = run('-c', "$dir/epoch2.json", 'verify-audit',
                    "$dir/certificate");
like($e, qr/the audit certificate is of epoch 1, the committee is at epoch 2/,
     '... and of a certificate');

($rc, $o, $e) = ctl('verify-audit', "$dir/none");
is($rc, 3, 'a missing file: exit 3');
like($e, qr/none: cannot read/, '... naming it');
($rc, $o, $e) = ctl('verify-audit');
is($rc, 2, 'verify-audit without a file: usage');
($rc, $o, $e) = run('-c', "$dir/no-committee.json", 'verify-audit',
                    "$dir/beacon");
is($rc, 3, 'no committee: exit 3');

# ------------------------------------------------------------- audit

spew("$dir/mode", 'answer');
($rc, $o, $e) = ctl('audit', 'node2');
is($rc, 0, 'audit node2: passed') or diag $e;
like($o, qr/^beacon: round 7 epoch 1 leader node1 seed $seed\n/,
     '... the beacon it verified');
like($o, qr/^challenge: 2 of 2 blobs node2 promised, from the record of node2$/m,
     '... the challenge set from its record');
like($o, qr/^\Q$ids[0]\E passed\n\Q$ids[1]\E passed\nnode node2 round 7: passed\n\z/m,
     '... a verdict per blob, in order, then the overall one');

($rc, $o, $e) = ctl('audit', '--round', '7', '--record-from', 'node4',
                    'node2');
is($rc, 0, 'audit --round 7 --record-from node4: passed') or diag $e;
like($o, qr/from the record of node4/, '... the record of node4');

($rc, $o, $e) = ctl('audit', "--blobs=$query", 'node2');
is($rc, 0, 'audit --blobs ID,ID: passed') or diag $e;
unlike($o, qr/challenge:/, '... no record read');

($rc, $o, $e) = ctl('audit', '--blobs', $ids[1], 'node2');
is($rc, 3, 'audit --blobs of other blobs: the node refuses, exit 3');
like($e, qr/the answer of node2: the node answered 400: not the blobs/,
     '... with its message');

($rc, $o, $e) = ctl('audit', '--round', '8', 'node2');
is($rc, 3, 'audit --round 8: no such beacon, exit 3');
like($e, qr/the beacon of node2: the node answered 404/, '... said');

spew("$dir/mode", 'answer-missing');
($rc, $o, $e) = ctl('audit', 'node2');
is($rc, 1, 'a blob not held: exit 1');
like($o, qr/^\Q$ids[0]\E missing: the node says it does not hold it\n\Q$ids[1]\E passed\nnode node2 round 7: missing\n\z/m,
     '... which blob, then missing');

spew("$dir/mode", 'answer-fraud');
($rc, $o, $e) = ctl('audit', '--fraud-out', "$dir/proof", 'node2');
is($rc, 1, 'a wrong symbol: exit 1');
like($o, qr/^\Q$ids[0]\E fraud: a signed entry does not verify\n\Q$ids[1]\E passed\nnode node2 round 7: fraud\nfraud proof: \Q$dir\E\/proof\n\z/m,
     '... which blob, fraud, and the proof written');
($rc, $o, $e) = ctl('verify-audit', "$dir/proof");
is($rc, 0, '... the proof verifies') or diag $e;
is($o, "fraud proof: node node2 round 7 blob $ids[0]\n", '... naming node2');

spew("$dir/answer-bad", flipped($answer, -1));
spew("$dir/mode", 'answer-bad');
($rc, $o, $e) = ctl('audit', 'node2');
is($rc, 1, 'an answer whose signature does not verify: exit 1');
like($e, qr/the answer of node2 proves nothing: bad signature/, '... said');

spew("$dir/mode", '409');
($rc, $o, $e) = ctl('audit', 'node2');
is($rc, 3, 'the node holds no beacon of the round yet (409): exit 3');
like($e, qr/answered 409: no beacon of round 7 yet/, '... said');

# command line errors

for my $case (
    [ [ 'audit' ], qr/audit expects/ ],
    [ [ 'audit', 'node9' ], qr/no node "node9" in the committee/ ],
    [ [ 'audit', '--round', 'x', 'node2' ], qr/--round x: a round is/ ],
    [ [ 'audit', '--round', '0', 'node2' ], qr/--round 0: a round is/ ],
    [ [ 'audit', '--round', '4294967296', 'node2' ], qr/a round is/ ],
    [ [ 'audit', '--blobs', 'abc', 'node2' ], qr/--blobs: invalid blob ID "abc"/ ],
    [ [ 'audit', '--blobs', join(',', ($ids[0]) x 65), 'node2' ],
      qr/--blobs: at most 64 blob IDs/ ],
    [ [ 'audit', '--record-from', 'nobody', 'node2' ], qr/no node "nobody"/ ],
    [ [ 'audit', '--after', '1', 'node2' ], qr/unknown option "--after"/ ],
    [ [ 'audit', '--round' ], qr/--round needs a value/ ],
) {
    my ($args, $why) = @$case;
    ($rc, $o, $e) = ctl(@$args);
    is($rc, 2, "@$args: usage error");
    like($e, $why, '... saying why');
}

# a node that is not there

(my $down = slurp($committee)) =~ s{\Q$url\E}{http://127.0.0.1:1}g;
spew("$dir/down.json", $down);
($rc, $o, $e) = run('-c', "$dir/down.json", 'audit', 'node2');
is($rc, 3, 'an unreachable node: exit 3');
like($e, qr{GET http://127\.0\.0\.1:1/v1/audit/beacon: }, '... naming the URL');

done_testing();
