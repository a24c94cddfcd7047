# Recovery symbols (docs/protocol.md section 11): GET
# /v1/blobs/{id}/recovery/{pair} on storage nodes, its answer's bytes
# checked here against the metadata, walrusctl rebuild of a pair from the
# answers of the other nodes, rotten slivers left out, and the
# inconsistency proof of a dishonestly encoded blob.
#
# Six nodes for n = 7: node5 holds shards 5 and 6, so that one answer
# carries two helper pairs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $n = $t->n;
my ($p, $s) = (3, 5);
my $dir = $t->dir;
my $json = JSON::PP->new->canonical;
my $ctl = "$WalrusTest::CTL -c $dir/committee.json";
my @nodes = 0 .. 5;
my $PROOF = 32 * 3;                     # 32 * ceil(log2 7)

my $committee = $json->decode(WalrusTest::read_file($t->committee));
my $gone = pop @{$committee->{nodes}};
push @{$committee->{nodes}[5]{shards}}, @{$gone->{shards}};
WalrusTest::write_file($t->committee, $json->encode($committee));

$t->write_config(gateway => 1, down => [6])->run;

# --- the documented bytes, independently of the C code --------------------

*leaf = \&WalrusTest::Proto::leaf;
*root = \&WalrusTest::Proto::root;

sub sym_of {
    my ($length, $g) = @_;
    my $len = $length - $g * $S;
    $len = $S if $len > $S;
    my $sym = int(($len + $p * $s - 1) / ($p * $s)) || 1;
    return int(($sym + 63) / 64) * 64;
}

# the header of an answer
sub head {
    my ($bytes) = @_;
    my %h;
    @h{qw(version id target axes first count m)} =
        unpack 'C a32 v C V V v', $bytes;
    $h{helpers} = [ unpack "x46 v$h{m}", $bytes ];
    return \%h;
}

# every entry of an answer checked against the metadata: its length is
# exact and every symbol hashes up its proof to its helper's hash
sub answer_verifies {
    my ($bytes, $meta) = @_;
    my $h = head($bytes);
    my $length = unpack 'x8 Q<', $meta;
    my $off = 46 + 2 * $h->{m};
    for my $g ($h->{first} .. $h->{first} + $h->{count} - 1) {
        my $sym = sym_of($length, $g);
        for my $pair (@{$h->{helpers}}) {
            my $hashes = substr $meta, 16 + ($g * $n + $pair) * 64, 64;
            for my $axis (1, 2) {
                next unless $h->{axes} & $axis;
                my $symbol = substr $bytes, $off, $sym;
                my $proof = substr $bytes, $off + $sym, $PROOF;
                $off += $sym + $PROOF;
                my ($index, $root) = $axis == 1
                    ? ($h->{target}, substr $hashes, 32, 32)
                    : ($n - 1 - $h->{target}, substr $hashes, 0, 32);
                my $up = WalrusTest::Proto::proof_root(leaf($symbol), $index,
                                                       $n, $proof);
                return 0 if $up ne $root;
            }
        }
    }
    return $off == length $bytes;
}

# --- a blob through the gateway ------------------------------------------

my $blob = blob_of(3 * $S + 1234, 5);
my $id = $t->put_blob($blob);
ok($id, 'PUT /v1/blobs stores a blob of four segments');
my $raw = $P->can('unb64url')->($id);

sub node_status {
    my ($i, $bid) = @_;
    my $res = $t->node_request($i, 'GET', "/v1/blobs/$bid/status");
    return eval { $json->decode($res->{content})->{success}{data} } // {};
}

ok(eventually(sub {
       !grep { my $st = node_status($_, $id);
               !($st->{stored} && $st->{certified}) } @nodes
   }, 5), 'every node holds its slivers and the certificate');

WalrusTest::write_file("$dir/blob.bin", $blob);
system("$ctl encode $dir/blob.bin $dir/enc > /dev/null") == 0
    or die 'walrusctl encode';
my $meta = WalrusTest::read_file("$dir/enc/metadata");

sub shard_of { ($_[0] + WalrusTest::Proto::id_mod($_[1], $n)) % $n }
sub owner { my $sh = shard_of(@_); $sh > 5 ? 5 : $sh }
sub pairs_of {
    my ($i, $bid) = @_;
    return sort { $a <=> $b }
        map { WalrusTest::Proto::shard_to_pair($bid, $n, $_) }
        $i == 5 ? (5, 6) : ($i);
}

sub recovery {
    my ($i, $bid, $pair, $query) = @_;
    return $t->node_request($i, 'GET', "/v1/blobs/$bid/recovery/$pair"
                                       . ($query // ''));
}

# --- answers from the other nodes rebuild pair k ---------------------------

my $k = 2;
my $holder = owner($k, $raw);
my @helpers = grep { $_ != $holder } @nodes;
my (@files, $bad);

for my $i (@helpers) {
    my $res = recovery($i, $id, $k);
    my $h = head($res->{content});
    $bad .= "node$i: $res->{status}; " unless $res->{status} == 200
        && $res->{headers}{'content-type'} eq 'application/octet-stream'
        && $h->{version} == 1 && $h->{id} eq $raw && $h->{target} == $k
        && $h->{axes} == 3 && $h->{first} == 0 && $h->{count} == 4
        && "@{$h->{helpers}}" eq join(' ', pairs_of($i, $raw))
        && answer_verifies($res->{content}, $meta);
    WalrusTest::write_file("$dir/ans$i", $res->{content});
    push @files, "$dir/ans$i";
}

ok(!$bad, 'each other node answers its pairs\' symbols of all segments and '
   . 'both axes, every proof verifying against the metadata')
    or diag($bad);

my $out = `$ctl rebuild $dir/enc/metadata $dir/out @files`;
is($?, 0, 'walrusctl rebuild exits 0');
is($out, "$id\n", '... and prints the blob ID');
for my $axis (qw(primary secondary)) {
    ok(WalrusTest::read_file("$dir/out/$k.$axis")
       eq WalrusTest::read_file("$dir/enc/$k.$axis"),
       "... $k.$axis is what walrusctl encode wrote");
}

# ranges and one axis

my (@ranged, @prim);
for my $i (@helpers) {
    for my $range ('0-1', '2-3') {
        my $res = recovery($i, $id, $k, "?segments=$range&axes=both");
        WalrusTest::write_file("$dir/r$i-$range", $res->{content});
        push @ranged, "$dir/r$i-$range";
    }
    my $res = recovery($i, $id, $k, '?axes=primary&segments=1-3');
    WalrusTest::write_file("$dir/p$i", $res->{content});
    push @prim, "$dir/p$i";
}

my $h = head(WalrusTest::read_file("$dir/p$helpers[0]"));
ok($h->{axes} == 1 && $h->{first} == 1 && $h->{count} == 3,
   'segments=1-3&axes=primary: that range, the primary axis');
ok(answer_verifies(WalrusTest::read_file("$dir/p$helpers[0]"), $meta),
   '... every entry verifying');
is(length WalrusTest::read_file("$dir/p$helpers[0]"),
   46 + 2 + 2 * (sym_of(length $blob, 1) + $PROOF)
   + sym_of(length $blob, 3) + $PROOF, '... and its size');
my $one = recovery($helpers[0], $id, $k, '?segments=3');
is(head($one->{content})->{count}, 1, 'segments=3: one segment');

system("$ctl rebuild $dir/enc/metadata $dir/ranged @ranged > /dev/null");
ok($? == 0 && WalrusTest::read_file("$dir/ranged/$k.primary")
              eq WalrusTest::read_file("$dir/enc/$k.primary")
   && WalrusTest::read_file("$dir/ranged/$k.secondary")
      eq WalrusTest::read_file("$dir/enc/$k.secondary"),
   'answers in two ranges each rebuild the same pair');

my $err = `$ctl rebuild $dir/enc/metadata $dir/prim @prim 2>&1`;
isnt($? >> 8, 0, 'primary answers without segment 0: refused');
like($err, qr/segment 0: fewer than 5 helper pairs/, '... segment 0 named');

# --- bad requests -----------------------------------------------------------

my @refused = (
    [ "/recovery/$k?axes=tertiary", 400, 'INVALID_AXES' ],
    [ "/recovery/$k?axes=", 400, 'INVALID_AXES' ],
    [ "/recovery/$k?segments=3-1", 400, 'INVALID_RANGE' ],
    [ "/recovery/$k?segments=0-4", 400, 'INVALID_RANGE' ],
    [ "/recovery/$k?segments=4", 400, 'INVALID_RANGE' ],
    [ "/recovery/$k?segments=a-b", 400, 'INVALID_RANGE' ],
    [ "/recovery/$k?segments=-1", 400, 'INVALID_RANGE' ],
    [ "/recovery/$k?segments=", 400, 'INVALID_RANGE' ],
    [ '/recovery/7', 400, 'INVALID_PAIR' ],
    [ '/recovery/255', 404, 'NO_SUCH_PATH' ],
    [ '/recovery/02', 404, 'NO_SUCH_PATH' ],
    [ '/recovery/2/primary', 404, 'NO_SUCH_PATH' ],
);

for my $r (@refused) {
    my $res = $t->node_request($helpers[0], 'GET', "/v1/blobs/$id$r->[0]");
    ok($res->{status} == $r->[1] && reason($res) eq $r->[2]
       && $res->{headers}{'content-type'} eq 'application/json',
       "$r->[0]: $r->[1] $r->[2] (JSON)")
        or diag("$res->{status} $res->{content}");
}

my $res = $t->node_request($helpers[0], 'PUT', "/v1/blobs/$id/recovery/$k",
                           'x');
is($res->{status}, 405, 'PUT: 405');
is($res->{headers}{allow}, 'GET, HEAD', '... Allow: GET, HEAD');

my $unknown = $P->can('b64url')->("\x07" x 32);
$res = recovery(0, $unknown, $k);
ok($res->{status} == 404 && reason($res) eq 'NOT_CERTIFIED',
   'a blob the node holds no certificate of: 404 NOT_CERTIFIED');

my $mpath = $t->store($helpers[0]) . "/$id/metadata";
rename $mpath, "$mpath.away" or die "rename: $!";
$res = recovery($helpers[0], $id, $k);
ok($res->{status} == 404 && reason($res) eq 'METADATA_NOT_FOUND',
   'no metadata: 404 METADATA_NOT_FOUND');
rename "$mpath.away", $mpath or die "rename: $!";

# an answer over 64 MiB: a blob of four 256 MiB segments, of which the
# node holds the metadata and a certificate (not checked again here)
my $fake_len = 4 * 268435456 - 5;
my $fake_meta = pack('C C v V Q<', 1, 1, $n, 268435456, $fake_len)
    . ("\x00" x (4 * $n * 64));
my $seg_root = root(map { leaf("\x00" x 64) } 1 .. $n);
my $fake_raw = sha256(substr($fake_meta, 0, 16)
                      . root(map { leaf($seg_root) } 1 .. 4));
my $fake = $P->can('b64url')->($fake_raw);
my $fdir = $t->store(0) . "/$fake";
mkdir $fdir or die "mkdir: $!";
WalrusTest::write_file("$fdir/metadata", $fake_meta);
WalrusTest::write_file("$fdir/certificate", 'certified');
$res = recovery(0, $fake, 1);
ok($res->{status} == 400 && reason($res) eq 'ANSWER_TOO_LARGE',
   'an answer over 64 MiB: 400 ANSWER_TOO_LARGE');
like($res->{content}, qr/ask for at most 1 segments from segment 0/,
     '... saying how many segments fit');
$res = recovery(0, $fake, 1, '?segments=3');
ok($res->{status} == 404 && reason($res) eq 'SLIVER_NOT_FOUND',
   '... one segment fits (and no sliver is there: 404 SLIVER_NOT_FOUND)');

# --- rotten slivers are left out -------------------------------------------

# node5's second pair: a byte of its last segment's secondary slice
my ($good, $rot) = pairs_of(5, $raw);
my $spath = $t->store(5) . "/$id/$rot.secondary";
my $sliver = WalrusTest::read_file($spath);
substr($sliver, length($sliver) - 10, 1) ^= "\x01";
open my $fh, '+<:raw', $spath or die "$spath: $!";
print $fh $sliver;
close $fh;

my $mark = $t->log_mark;
$res = recovery(5, $id, $k, '?axes=secondary');
is_deeply(head($res->{content})->{helpers}, [ pairs_of(5, $raw) ],
          'a rotten secondary sliver: the secondary axis (primary slivers) '
          . 'still has both pairs');
$res = recovery(5, $id, $k);
$h = head($res->{content});
ok($res->{status} == 200 && "@{$h->{helpers}}" eq "$good",
   "both axes: pair $rot is left out, pair $good answered");
ok(answer_verifies($res->{content}, $meta), '... and verifies');
ok(!-e $spath && -e "$spath.bad", "... $rot.secondary set aside as .bad");
my $warned = qr/\[warn\].*secondary sliver of pair $rot .*does not verify/;
ok(scalar $t->log_lines($mark, $warned), '... with a warning');
WalrusTest::write_file("$dir/ans5-rot", $res->{content});
my @rot = map { $_ eq "$dir/ans5" ? "$dir/ans5-rot" : $_ } @files;
system("$ctl rebuild $dir/enc/metadata $dir/out2 @rot > /dev/null");
ok($? == 0 && WalrusTest::read_file("$dir/out2/$k.primary")
              eq WalrusTest::read_file("$dir/enc/$k.primary"),
   '... the pair is still rebuilt');

# a node of one pair whose sliver rotted has nothing to give
my $single = (grep { $_ != 5 } @helpers)[0];
my ($sp) = pairs_of($single, $raw);
$spath = $t->store($single) . "/$id/$sp.primary";
$sliver = WalrusTest::read_file($spath);
substr($sliver, 7, 1) ^= "\x80";
WalrusTest::write_file($spath, $sliver);
$res = recovery($single, $id, $k);
ok($res->{status} == 404 && reason($res) eq 'SLIVER_NOT_FOUND',
   'a node whose only pair rotted: 404 SLIVER_NOT_FOUND');
$res = recovery($single, $id, $k, '?axes=primary');
ok($res->{status} == 200, '... its secondary sliver still serves the '
   . 'primary axis');

# a tampered answer: walrusctl names the liar and rebuilds from the rest
my $lie = WalrusTest::read_file("$dir/ans$helpers[1]");
substr($lie, 46 + 2 + 5, 1) ^= "\x01";
WalrusTest::write_file("$dir/lie", $lie);
my @liars = map { $_ eq "$dir/ans$helpers[1]" ? "$dir/lie" : $_ } @files;
$err = `$ctl rebuild $dir/enc/metadata $dir/out3 @liars 2>&1 >/dev/null`;
my ($liar_pair) = pairs_of($helpers[1], $raw);
ok($? == 0 && -e "$dir/out3/$k.primary", 'one lying answer: still rebuilt')
    or diag($err);
like($err, qr/1 symbols of helper pair $liar_pair do not verify/,
     '... and the liar named');
WalrusTest::write_file("$dir/short", substr($lie, 0, -1));
$err = `$ctl rebuild $dir/enc/metadata $dir/out4 $dir/short @files 2>&1`;
like($err, qr/short: not a recovery answer of blob \Q$id\E \(malformed/,
     'a truncated answer is left out');

# --- an inconsistently encoded blob ---------------------------------------

my $badblob = blob_of(2 * $S + 500, 9);
WalrusTest::write_file("$dir/bad.bin", $badblob);
my $bad_id =
    `$WalrusTest::ROOT/build/tools/bad_parity $n $S $dir/bad.bin $dir/bad`;
chomp $bad_id;
my $bad_raw = $P->can('unb64url')->($bad_id);
$t->register($bad_id, length $badblob, @nodes);
my @signers;
for my $i (@nodes) {
    $t->node_request($i, 'PUT', "/v1/blobs/$bad_id/metadata",
                     WalrusTest::read_file("$dir/bad/metadata"));
    for my $pair (pairs_of($i, $bad_raw)) {
        for my $axis (qw(primary secondary)) {
            $t->node_request($i, 'PUT',
                             "/v1/blobs/$bad_id/slivers/$pair/$axis",
                             WalrusTest::read_file("$dir/bad/$pair.$axis"));
        }
    }
    my $c = eval { $json->decode($t->node_request($i, 'GET',
                       "/v1/blobs/$bad_id/confirmation")->{content}) };
    push @signers, [$i, $P->can('unb64url')->(
                            $c->{success}{data}{signed}{signature})] if $c;
}
is(scalar @signers, 6, 'every node accepts the dishonest slivers');
my $cert = WalrusTest::Proto::certificate(1, $bad_raw, @signers);
$t->node_request($_, 'PUT', "/v1/blobs/$bad_id/certificate", $cert)
    for @nodes;

# pair p's primary sliver of segment 0 is garbage the metadata commits to
my @bad_files;
for my $i (grep { $_ != owner($p, $bad_raw) } @nodes) {
    my $r = recovery($i, $bad_id, $p);
    WalrusTest::write_file("$dir/bans$i", $r->{content});
    push @bad_files, "$dir/bans$i" if $r->{status} == 200;
}
is(scalar @bad_files, 5, 'the other nodes answer for pair 3: their '
   . 'slivers match the metadata');

$err = `$ctl rebuild $dir/bad/metadata $dir/bout @bad_files 2>&1`;
is($? >> 8, 1, 'walrusctl rebuild exits 1');
like($err, qr/encoded inconsistently.*primary sliver of pair 3 in segment 0/,
     '... the blob was encoded inconsistently');
ok(-s "$dir/bout/$p.inconsistency" && !-e "$dir/bout/$p.primary",
   "... $p.inconsistency written, no sliver");

$out = `$ctl verify-inconsistency $dir/bout/$p.inconsistency 2>&1`;
ok($? == 0 && $out eq "$bad_id\n",
   'walrusctl verify-inconsistency accepts it and prints the blob ID');
my $after = "verify-inconsistency $dir/bout/$p.inconsistency "
    . "-c $dir/committee.json";
$out = `$WalrusTest::CTL $after 2>&1`;
ok($? == 0 && $out eq "$bad_id\n", '... also against the committee (-c '
   . 'after the command)');

my $proof = WalrusTest::read_file("$dir/bout/$p.inconsistency");
is(substr($proof, 0, 22), 'walrus-inconsistency:1', 'the proof\'s tag');
is(substr($proof, 22, 32), $bad_raw, '... the blob ID');
is_deeply([ unpack 'v C V V', substr($proof, 54, 11) ],
          [ $p, 0, 0, length WalrusTest::read_file("$dir/bad/metadata") ],
          '... pair 3, the primary axis, segment 0, the metadata length');

for my $tamper ([ 'a proof byte', length($proof) - 1 ],
                [ 'a symbol byte', length($proof) - $PROOF - 5 ],
                [ 'a metadata hash', 65 + 16 + 70 ])
{
    my $copy = $proof;
    substr($copy, $tamper->[1], 1) ^= "\x01";
    WalrusTest::write_file("$dir/tampered", $copy);
    $err = `$ctl verify-inconsistency $dir/tampered 2>&1`;
    ok($? >> 8 == 1 && $err =~ /the proof does not hold/,
       "$tamper->[0] changed: the proof does not hold")
        or diag($err);
}

WalrusTest::write_file("$dir/tampered", substr($proof, 0, -1));
`$ctl verify-inconsistency $dir/tampered 2>&1`;
is($? >> 8, 1, 'a truncated proof does not hold');

$t->stop;

done_testing();
