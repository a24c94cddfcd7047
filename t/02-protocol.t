# The worked example of docs/protocol.md, recomputed independently in Perl
# (GF(2^8) Cauchy codes, domain-separated SHA-256 Merkle trees) and
# compared with the document and with walrusctl.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Temp qw(tempdir);
use Digest::SHA qw(sha256);
use WalrusTest;

my $ctl = './build/walrusctl';
plan skip_all => "$ctl not built" unless -x $ctl;

# --- the document --------------------------------------------------------

open my $fh, '<', 'docs/protocol.md' or die "docs/protocol.md: $!";
my $doc = do { local $/; <$fh> };
close $fh;

my ($example) = $doc =~ /^## 14\. Worked example\n(.*)/ms;
ok($example, 'the document has a worked example');

my %doc_pairs;
while ($example =~ /^\| (\d) \| `([0-9a-f]{64})` \| `([0-9a-f]{64})` \|$/mg) {
    $doc_pairs{$1} = [$2, $3];
}
is(scalar keys %doc_pairs, 4, 'four pairs in the table');

my ($doc_seg_root) = $example =~ /segment root: `([0-9a-f]{64})`/;
my ($doc_id_hex) = $example =~ /- blob ID: `([0-9a-f]{64})`/;
my ($doc_id_text) = $example =~ /blob ID text: `([A-Za-z0-9_-]{43})`/;
ok($doc_seg_root && $doc_id_hex && $doc_id_text, 'document values found');

# --- GF(2^8), polynomial 0x11d -------------------------------------------

my (@exp, @log);
{
    my $x = 1;
    for my $i (0 .. 254) {
        $exp[$i] = $x;
        $log[$x] = $i;
        $x <<= 1;
        $x ^= 0x11d if $x & 0x100;
    }
}

sub gf_mul {
    my ($a, $b) = @_;
    return 0 if $a == 0 || $b == 0;
    return $exp[($log[$a] + $log[$b]) % 255];
}

sub gf_inv { return $exp[(255 - $log[$_[0]]) % 255] }

# systematic Cauchy generator of an [n, k] code
sub generator {
    my ($n, $k) = @_;
    my @g;
    for my $i (0 .. $n - 1) {
        for my $j (0 .. $k - 1) {
            $g[$i][$j] = $i < $k ? ($i == $j ? 1 : 0) : gf_inv($i ^ $j);
        }
    }
    return \@g;
}

# codeword of k source symbols (byte strings) under generator g
sub extend {
    my ($g, $n, @src) = @_;
    my $k = @src;
    my $len = length $src[0];
    my @out;
    for my $i (0 .. $n - 1) {
        if ($i < $k) { push @out, $src[$i]; next }
        my @acc = (0) x $len;
        for my $j (0 .. $k - 1) {
            my $c = $g->[$i][$j];
            my @b = unpack 'C*', $src[$j];
            $acc[$_] ^= gf_mul($c, $b[$_]) for 0 .. $len - 1;
        }
        push @out, pack 'C*', @acc;
    }
    return @out;
}

# --- Merkle --------------------------------------------------------------

*leaf = \&WalrusTest::Proto::leaf;
*root = \&WalrusTest::Proto::root;

# --- the example ---------------------------------------------------------

my ($n, $f, $S) = (4, 1, 1024);
my ($p, $s) = ($n - 2 * $f, $n - $f);
my $blob = join '', map { chr($_ % 256) } 0 .. 299;
my $sym = 64;
my $padded = $blob . ("\x00" x ($p * $s * $sym - length $blob));

my @E;
my $gp = generator($n, $p);
my $gs = generator($n, $s);

for my $r (0 .. $p - 1) {
    my @row = map { substr($padded, ($r * $s + $_) * $sym, $sym) } 0 .. $s - 1;
    $E[$r] = [ extend($gs, $n, @row) ];
}
for my $c (0 .. $n - 1) {
    my @col = extend($gp, $n, map { $E[$_][$c] } 0 .. $p - 1);
    $E[$_][$c] = $col[$_] for $p .. $n - 1;
}

# the codes commute: extending the parity rows with the secondary code
# gives the same symbols as extending the columns
my $commute = 1;
for my $r ($p .. $n - 1) {
    my @row = extend($gs, $n, map { $E[$r][$_] } 0 .. $s - 1);
    $commute &&= $row[$_] eq $E[$r][$_] for $s .. $n - 1;
}
ok($commute, 'primary and secondary extensions commute');

my @pairs;
for my $k (0 .. $n - 1) {
    my $j = $n - 1 - $k;
    my $ph = root(map { leaf($E[$k][$_]) } 0 .. $n - 1);
    my $sh = root(map { leaf($E[$_][$j]) } 0 .. $n - 1);
    push @pairs, [$ph, $sh];
    is(unpack('H*', $ph), $doc_pairs{$k}[0], "pair $k: primary hash");
    is(unpack('H*', $sh), $doc_pairs{$k}[1], "pair $k: secondary hash");
}

my $seg_root = root(map { leaf($_->[0] . $_->[1]) } @pairs);
is(unpack('H*', $seg_root), $doc_seg_root, 'segment root');

my $header = pack 'C C v V Q<', 1, 1, $n, $S, length $blob;
my $id = sha256($header . root(leaf($seg_root)));
is(unpack('H*', $id), $doc_id_hex, 'blob ID');

my $text = MIME_base64url($id);
is($text, $doc_id_text, 'blob ID text');

sub MIME_base64url {
    require MIME::Base64;
    my $t = MIME::Base64::encode_base64($_[0], '');
    $t =~ tr{+/}{-_};
    $t =~ s/=+$//;
    return $t;
}

# --- walrusctl agrees, byte for byte -------------------------------------

my $dir = tempdir(CLEANUP => 1);
my @nodes;
for my $i (0 .. $n - 1) {
    system($ctl, 'keygen', "$dir/node$i") == 0 or die "keygen failed";
    push @nodes, sprintf '{"name":"node%d","url":"http://127.0.0.1:%d",'
        . '"shards":[%d],"public_key_file":"node%d.pub"}', $i, 9100 + $i,
        $i, $i;
}
open my $cf, '>', "$dir/committee.json" or die;
print $cf '{"epoch":1,"n_shards":4,"segment_size":1024,"nodes":['
    . join(',', @nodes) . ']}';
close $cf;

open my $bf, '>:raw', "$dir/example.bin" or die;
print $bf $blob;
close $bf;

my $out = `$ctl -c $dir/committee.json blob-id $dir/example.bin`;
is($?, 0, 'walrusctl blob-id exits 0');
chomp $out;
is($out, $doc_id_text, 'walrusctl blob-id gives the documented ID');

system($ctl, '-c', "$dir/committee.json", 'encode', "$dir/example.bin",
       "$dir/slivers") == 0 or die 'encode failed';

my $meta = slurp("$dir/slivers/metadata");
is(length $meta, 272, 'metadata is 272 bytes');
is(unpack('H*', substr $meta, 0, 16), '0101040000040000' . '2c01000000000000',
   'metadata header');
is(substr($meta, 16), join('', map { $_->[0] . $_->[1] } @pairs),
   'metadata hashes');

for my $k (0 .. $n - 1) {
    is(slurp("$dir/slivers/$k.primary"),
       join('', map { $E[$k][$_] } 0 .. $s - 1), "pair $k: primary sliver");
    is(slurp("$dir/slivers/$k.secondary"),
       join('', map { $E[$_][$n - 1 - $k] } 0 .. $p - 1),
       "pair $k: secondary sliver");
}

sub slurp {
    open my $h, '<:raw', $_[0] or return '';
    local $/;
    return scalar <$h>;
}

done_testing();
