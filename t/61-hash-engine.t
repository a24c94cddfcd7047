# Leaf hashing engines through nginx.  The master runs the start-up
# self-test and logs which engine hashes Merkle leaves; a forced mismatch
# (WALRUS_SHA256=test-mismatch) falls back to OpenSSL with a warning, and
# WALRUS_SHA256=openssl turns multi-buffer off.  The bytes are the same
# under every engine: blobs stored under one are read, verified and
# decoded under another.  Blobs span 10 segments, so that nodes verify
# uploaded slices in batches (4 + 4 + 1 + 1 at n = 7) and the gateway the
# slivers of a segment together; a sliver with one byte off in a later
# segment of a batch is refused, naming that segment.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $n = $t->n;
my $f = $t->f;
my $dir = $t->dir;
my $json = JSON::PP->new;

# slice sizes at n = 7: p = 3, s = 5, symbols rounded up to 64 bytes
my ($p, $s) = ($n - 2 * $f, $n - $f);
sub symbol_size {
    my $sym = int(($_[0] + $p * $s - 1) / ($p * $s));
    return int(($sym + 63) / 64) * 64;
}
my $LEN = 9 * $S + 100;
my %slice = (primary => $s * symbol_size($S),
             secondary => $p * symbol_size($S));

# the engine line of the last start, and its level
sub engine_line {
    my ($mark) = @_;
    my @l = $t->log_lines($mark, qr/walrus: .*SHA-256/);
    return $l[-1] // '';
}

sub start {
    my ($engine) = @_;
    local %ENV = %ENV;
    if (defined $engine) {
        $ENV{WALRUS_SHA256} = $engine;
    } else {
        delete $ENV{WALRUS_SHA256};
    }
    my $mark = $t->log_mark;
    $t->run;
    return engine_line($mark);
}

sub message {
    my ($res) = @_;
    my $d = eval { $json->decode($res->{content}) } // {};
    return $d->{error}{message} // '';
}

$t->write_config(gateway => 1);

# --- the default engine ------------------------------------------------------

my $line = start();
like($line, qr/\[notice\].*walrus: (multi-buffer SHA-256 \(libipsec-mb .*self-test passed\)|OpenSSL SHA-256 \()/,
     'the master logs the leaf engine at start');
my $mb = $line =~ /multi-buffer/;
note("engine: $line");

my %blob = (default => WalrusTest::pattern_blob($LEN, 61));
my %id;
$id{default} = $t->put_blob($blob{default});
is($id{default}, $t->cli_blob_id($blob{default}),
   'a blob stored under the default engine has the ID walrusctl computes');
my $res = $t->get_blob($id{default});
ok($res->{status} == 200 && $res->{content} eq $blob{default},
   'and reads back byte for byte');
$t->stop;

# --- OpenSSL leaves ---------------------------------------------------------

$line = start('openssl');
like($line, qr/walrus: OpenSSL SHA-256 \(WALRUS_SHA256=openssl\)/,
     'WALRUS_SHA256=openssl: the log says OpenSSL hashes the leaves');
$res = $t->get_blob($id{default});
ok($res->{status} == 200 && $res->{content} eq $blob{default},
   'the blob stored under the default engine reads back under OpenSSL');

$blob{openssl} = WalrusTest::pattern_blob($LEN, 62);
$id{openssl} = $t->put_blob($blob{openssl});
is($id{openssl}, $t->cli_blob_id($blob{openssl}),
   'a blob stored with OpenSSL leaves has the same ID as walrusctl\'s');

# a node refuses a sliver off by one byte in segment 5 (its second batch)
# and in the last segment (a batch of its own), either axis

WalrusTest::write_file("$dir/b.bin", $blob{openssl});
my $enc = "$dir/enc-openssl";
system("$WalrusTest::CTL -c $dir/committee.json encode $dir/b.bin $enc "
       . '> /dev/null') == 0 or die 'walrusctl encode failed';
my $idb = $P->can('unb64url')->($id{openssl});
my $pair = $P->can('shard_to_pair')->($idb, $n, 0);
my $base = "/v1/blobs/$id{openssl}";
$t->stop;

# --- a forced self-test mismatch ---------------------------------------------

$line = start('test-mismatch');
if ($mb) {
    like($line, qr/\[warn\].*walrus: OpenSSL SHA-256: the libipsec-mb .* self-test failed on \d+-byte messages, multi-buffer disabled/,
         'a self-test mismatch is a warning and leaves OpenSSL on');
} else {
    like($line, qr/walrus: OpenSSL SHA-256 \(/,
         'no multi-buffer here: OpenSSL either way');
}
$res = $t->get_blob($id{openssl});
ok($res->{status} == 200 && $res->{content} eq $blob{openssl},
   'after the fallback, blobs read back byte for byte');
$blob{fallback} = WalrusTest::pattern_blob($LEN + 4000, 63);
$id{fallback} = $t->put_blob($blob{fallback});
$res = $t->get_blob($id{fallback} // 'none');
ok(defined $id{fallback} && $res->{status} == 200
   && $res->{content} eq $blob{fallback},
   'and are stored and read back');
$t->stop;

# --- the default engine again: everything reads, bad slivers are named -------

start();
for my $k (sort keys %blob) {
    $res = $t->get_blob($id{$k});
    ok($res->{status} == 200 && $res->{content} eq $blob{$k},
       "the blob stored under '$k' reads back under the default engine");
}

# node 0 holds pair $pair; the blob is certified, so the node has it
# already: a second upload of a damaged sliver is checked all the same
for my $axis (qw(primary secondary)) {
    my $good = WalrusTest::read_file("$enc/$pair.$axis");
    for my $seg (5, 9) {
        my $bad = $good;
        my $off = $seg * $slice{$axis} + 7;
        substr($bad, $off, 1) = chr(ord(substr $bad, $off, 1) ^ 0x01);
        $res = $t->node_request(0, 'PUT', "$base/slivers/$pair/$axis", $bad);
        is($res->{status}, 400, "$axis sliver off in segment $seg: refused");
        is(WalrusTest::reason($res), 'INVALID_SLIVER', '... as INVALID_SLIVER');
        like(message($res), qr/^segment $seg of the sliver does not match/,
             "... naming segment $seg");
    }
    $res = $t->node_request(0, 'PUT', "$base/slivers/$pair/$axis", $good);
    ok($res->{status} == 200 || $res->{status} == 201,
       "the good $axis sliver is taken");
}

$res = $t->get_blob($id{openssl});
ok($res->{status} == 200 && $res->{content} eq $blob{openssl},
   'the blob still reads back');
$t->stop;

done_testing;
