#!/usr/bin/perl
#
# walrusctl: blob IDs, encode/decode round trips, damaged sliver
# directories, node keys, certificates, registrations and command line
# errors.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(encode_base64url decode_base64url);

use lib 't/lib';
use WalrusTest ();

my $bin = File::Spec->rel2abs('build/walrusctl');

unless (-x $bin) {
    fail("$bin exists and is executable (run `make all` from the repo root)");
    done_testing();
    exit 1;
}

my $dir = tempdir('walrusctl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $committee = "$dir/committee.json";

my ($N, $F, $P, $S, $SEG) = (7, 2, 3, 5, 4096);
my $QUORUM = $N - $F;

# ---------------------------------------------------------------- helpers

sub slurp { WalrusTest::read_file(@_) }
sub spew { WalrusTest::write_file(@_) }

# runs walrusctl; returns (exit code, stdout, stderr)
sub run {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    return WalrusTest::capture($opt, $dir, $bin, @_);
}

sub ctl {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    return run($opt, '-c', $committee, @_);
}

my $seed = 0x12345678;

sub random_bytes {
    my ($len) = @_;
    my $data = '';
    while (length($data) < $len) {
        $seed = ($seed * 1103515245 + 12345) % 2**31;
        $data .= pack('N', $seed ^ ($seed >> 7));
    }
    return substr($data, 0, $len);
}

sub roundup64 {
    my ($x) = @_;
    return int(($x + 63) / 64) * 64;
}

sub symbol_size {
    my ($len) = @_;
    my $cells = $P * $S;
    my $sym = int(($len + $cells - 1) / $cells);
    $sym = 1 if $sym == 0;
    return roundup64($sym);
}

sub segments {
    my ($len) = @_;
    return $len == 0 ? 1 : int(($len + $SEG - 1) / $SEG);
}

# bytes of a primary (rows = $S) or secondary (rows = $P) sliver file
sub sliver_file_size {
    my ($len, $symbols) = @_;
    my $nseg = segments($len);
    my $last = $len - ($nseg - 1) * $SEG;
    return ($nseg - 1) * $symbols * symbol_size($SEG)
           + $symbols * symbol_size($last);
}

# ---------------------------------------------------------------- keys

for my $i (0 .. $N - 2) {
    my ($rc, $out, $err) = run('keygen', "$dir/node$i");
    is($rc, 0, "keygen node$i") or diag $err;
    is($out, "$dir/node$i.key\n$dir/node$i.pub\n",
       "keygen node$i prints both paths");
}

is((stat "$dir/node0.key")[2] & 07777, 0600, 'private key is mode 0600');
like(slurp("$dir/node0.key") // '', qr/^-----BEGIN PRIVATE KEY-----\n/,
     'private key is PEM');
like(slurp("$dir/node0.pub") // '', qr/^-----BEGIN PUBLIC KEY-----\n/,
     'public key is PEM');
is(system("openssl pkey -in $dir/node0.key -noout 2>/dev/null"), 0,
   'openssl reads a walrusctl private key');

{
    my $before = slurp("$dir/node0.key");
    my ($rc, $out, $err) = run('keygen', "$dir/node0");
    is($rc, 3, 'keygen refuses to overwrite an existing key');
    like($err, qr/^walrusctl: .*node0\.key.*exists/, '... and says so');
    is(slurp("$dir/node0.key"), $before, '... and leaves it alone');
}

# the last node's key comes from openssl itself
my $last = $N - 1;
is(system("openssl genpkey -algorithm ed25519 -out $dir/node$last.key"
          . " 2>/dev/null && openssl pkey -in $dir/node$last.key -pubout"
          . " -out $dir/node$last.pub 2>/dev/null"), 0,
   "openssl genpkey makes node$last");

spew($committee, '{"epoch":1,"n_shards":7,"segment_size":4096,"nodes":['
     . join(',', map {
           qq({"name":"node$_","url":"http://127.0.0.1:91)
           . sprintf('%02d', $_)
           . qq(","shards":[$_],"public_key_file":"node$_.pub"})
       } 0 .. $N - 1)
     . ']}');

# ---------------------------------------------------------------- blob IDs

my $data = random_bytes(10000);
spew("$dir/a.bin", $data);
spew("$dir/b.bin", $data);
my $changed = $data;
substr($changed, 5000, 1) = chr(ord(substr($changed, 5000, 1)) ^ 1);
spew("$dir/c.bin", $changed);

my ($rc, $out, $err) = ctl('blob-id', "$dir/a.bin");
is($rc, 0, 'blob-id exits 0') or diag $err;
like($out, qr/^[A-Za-z0-9_-]{43}\n\z/, 'blob-id prints 43 base64url chars');
my $id_a = $out;
chomp $id_a;

($rc, $out) = ctl('blob-id', "$dir/b.bin");
is($out, "$id_a\n", 'the same bytes have the same blob ID');

($rc, $out) = ctl('blob-id', "$dir/c.bin");
is($rc, 0, 'blob-id of the changed file exits 0');
like($out, qr/^[A-Za-z0-9_-]{43}\n\z/, '... prints a blob ID');
isnt($out, "$id_a\n", 'a one-byte change changes the blob ID');
my $id_c = $out;
chomp $id_c;

($rc, $out) = ctl({ stdin => "$dir/a.bin" }, 'blob-id', '-');
is($out, "$id_a\n", 'blob-id - reads stdin');

# through a pipe the length is not known in advance
for my $len (0, 100000) {
    my $in = "$dir/pipe-$len.bin";
    spew($in, random_bytes($len));
    my ($rc1, $want) = ctl('blob-id', $in);
    my $got = `cat $in | $bin -c $committee blob-id - 2>&1`;
    is($?, 0, "len $len: blob-id - from a pipe exits 0");
    is($got, $want, "len $len: ... with the blob ID of the file");
}

($rc, $out, $err) = ctl('blob-id', "$dir/missing.bin");
is($rc, 3, 'blob-id of a missing file exits 3');
like($err, qr/^walrusctl: \Q$dir\E\/missing\.bin: /, '... naming the file');

# ---------------------------------------------------------------- round trips

for my $len (0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 100000) {
    my $in = "$dir/in-$len.bin";
    my $enc = "$dir/enc-$len";
    my $back = "$dir/back-$len.bin";
    my $bytes = random_bytes($len);

    spew($in, $bytes);

    my ($rc1, $id) = ctl('blob-id', $in);
    my ($rc2, $eid, $eerr) = ctl('encode', $in, $enc);
    is($rc2, 0, "len $len: encode exits 0") or diag $eerr;
    is($eid, $id, "len $len: encode prints the blob ID of blob-id");
    is(slurp("$enc/blob-id"), $id, "len $len: DIR/blob-id holds it too");

    my @bad;
    for my $k (0 .. $N - 1) {
        push @bad, "$k.primary"
            if (-s "$enc/$k.primary" // -1) != sliver_file_size($len, $S);
        push @bad, "$k.secondary"
            if (-s "$enc/$k.secondary" // -1) != sliver_file_size($len, $P);
    }
    is("@bad", '', "len $len: every sliver file has the size of its layout");

    opendir my $dh, $enc or die "$enc: $!";
    my @hidden = grep { /^\./ && !/^\.\.?$/ } readdir $dh;
    closedir $dh;
    is("@hidden", '', "len $len: no temporary file left in DIR");

    my ($rc3, $did, $derr) = ctl('decode', $enc, $back);
    is($rc3, 0, "len $len: decode exits 0") or diag $derr;
    is($did, $id, "len $len: decode prints the blob ID");
    is($derr, '', "len $len: decode warns about nothing");
    ok(defined slurp($back) && slurp($back) eq $bytes,
       "len $len: decoded bytes are identical");
}

# the systematic slivers hold the data, segment by segment
{
    my $len = 3 * 4096 + 5;
    my $bytes = slurp("$dir/in-$len.bin");
    my @prim = map { slurp("$dir/enc-$len/$_.primary") } 0 .. $P - 1;
    my ($off, $rebuilt) = (0, '');

    for my $g (0 .. segments($len) - 1) {
        my $glen = $g == segments($len) - 1 ? $len - $g * $SEG : $SEG;
        my $slice = $S * symbol_size($glen);
        $rebuilt .= substr(join('', map { substr($_, $off, $slice) } @prim),
                           0, $glen);
        $off += $S * symbol_size($SEG);
    }

    ok($rebuilt eq $bytes,
       'primary slivers 0..p-1 at walrus_sliver_offset hold the raw data');

    # pair k holds secondary sliver j = n-1-k: column j of the data when
    # j < s, symbol r at offset r * sym
    my @bad;

    for my $k ($N - $S .. $N - 1) {
        my $j = $N - 1 - $k;
        my $sec = slurp("$dir/enc-$len/$k.secondary") // '';

        for my $g (0 .. segments($len) - 1) {
            my $glen = $g == segments($len) - 1 ? $len - $g * $SEG : $SEG;
            my $sym = symbol_size($glen);
            my $seg = substr($bytes, $g * $SEG, $glen);
            $seg .= "\0" x ($P * $S * $sym - $glen);

            my $want = join('', map { substr($seg, ($_ * $S + $j) * $sym,
                                             $sym) } 0 .. $P - 1);
            my $have = substr($sec, $g * $P * symbol_size($SEG), $P * $sym);

            push @bad, "$k/$g" if $have ne $want;
        }
    }

    is("@bad", '', 'pair k holds secondary sliver n-1-k at its offset');
}

{
    my ($rc, $out) = ctl('decode', "$dir/enc-100000", '-');
    is($rc, 0, 'decode to stdout exits 0');
    ok($out eq slurp("$dir/in-100000.bin"), 'decode - writes the bytes');
}

# ---------------------------------------------------------------- damage

my $blob = "$dir/in-100000.bin";
my $bytes = slurp($blob);

sub fresh {
    my ($name) = @_;
    my $d = "$dir/$name";
    my ($rc, $id, $err) = ctl('encode', $blob, $d);
    die "encode: $err" if $rc != 0;
    chomp $id;
    return ($d, $id);
}

{
    my ($d, $id) = fresh('only-p');
    unlink map { "$d/$_.primary" } 0 .. $N - $P - 1;
    my ($rc, $out, $err) = ctl('decode', $d, "$dir/only-p.bin");
    is($rc, 0, 'decode with p non-systematic primary files exits 0')
        or diag $err;
    ok((slurp("$dir/only-p.bin") // '') eq $bytes, '... and decodes');
    like($err, qr/^walrusctl: pair 0: .*0\.primary.*skipped$/m,
         '... warning about the missing pair 0');

    unlink "$d/" . ($N - 1) . '.primary';
    ($rc, $out, $err) = ctl('decode', $d, "$dir/only-2.bin");
    is($rc, 1, 'decode with 2 primary files exits 1');
    like($err, qr/^walrusctl: .*segment 0: only 2 of 3 verified primary/m,
         '... saying how many slivers it had');
    ok(!-e "$dir/only-2.bin", '... and creates no output file');
    is(scalar(() = glob("$dir/.tmp.only-2*")), 0, '... nor a temporary one');
}

{
    my ($d, $id) = fresh('corrupt');
    my $sliver = slurp("$d/1.primary");
    substr($sliver, 100, 1) = chr(ord(substr($sliver, 100, 1)) ^ 0x55);
    spew("$d/1.primary", $sliver);

    my ($rc, $out, $err) = ctl('decode', $d, "$dir/corrupt.bin");
    is($rc, 0, 'decode with a corrupt systematic sliver exits 0');
    ok((slurp("$dir/corrupt.bin") // '') eq $bytes, '... with the right bytes');
    my $warning = 'walrusctl: pair 1: primary sliver does not match the'
                  . ' metadata';
    like($err, qr/^\Q$warning\E.*skipped$/m, '... warning about pair 1');
    is(scalar(() = $err =~ /^walrusctl:/mg), 1, '... and about nothing else');

    truncate "$d/2.primary", 1000 or die $!;
    ($rc, $out, $err) = ctl('decode', $d, "$dir/short.bin");
    is($rc, 0, 'decode with a short sliver file exits 0');
    ok((slurp("$dir/short.bin") // '') eq $bytes, '... with the right bytes');
    like($err, qr/^walrusctl: pair 2: .*too short.*skipped$/m,
         '... warning about pair 2');
}

{
    my ($d, $id) = fresh('check');
    my ($rc, $out, $err) = ctl('decode', '--blob-id', $id, $d,
                               "$dir/check.bin");
    is($rc, 0, 'decode --blob-id with the right ID exits 0') or diag $err;

    my $wrong = $id_c;
    ($rc, $out, $err) = ctl('decode', '--blob-id', $wrong, $d,
                            "$dir/wrong.bin");
    is($rc, 1, 'decode --blob-id with a wrong ID exits 1');
    like($err, qr/^walrusctl: .*metadata.*\Q$wrong\E/m, '... naming the ID');
    ok(!-e "$dir/wrong.bin", '... and creates no output file');

    ($rc, $out, $err) = ctl('decode', '--blob-id', 'not-an-id', $d,
                            "$dir/wrong.bin");
    is($rc, 2, 'decode --blob-id with a malformed ID exits 2');

    my $meta = slurp("$d/metadata");
    spew("$d/metadata", substr($meta, 0, length($meta) - 10));
    ($rc, $out, $err) = ctl('decode', $d, "$dir/trunc.bin");
    is($rc, 3, 'decode with truncated metadata exits 3');
    like($err, qr/^walrusctl: \Q$d\E\/metadata: truncated/m,
         '... naming the metadata file');
    ok(!-e "$dir/trunc.bin", '... and creates no output file');

    my $bad = $meta;
    substr($bad, 40, 1) = chr(ord(substr($bad, 40, 1)) ^ 1);
    spew("$d/metadata", $bad);
    ($rc, $out, $err) = ctl('decode', '--blob-id', $id, $d,
                            "$dir/tamper.bin");
    is($rc, 1, 'decode --blob-id with tampered metadata exits 1');
    ok(!-e "$dir/tamper.bin", '... and creates no output file');

    ($rc, $out, $err) = ctl('decode', "$dir/nowhere", "$dir/nowhere.bin");
    is($rc, 3, 'decode of a missing directory exits 3');
    like($err, qr/^walrusctl: \Q$dir\E\/nowhere\/metadata: /m,
         '... naming the metadata file');
}

# ---------------------------------------------------------------- certificates

my $cert_id = decode_base64url($id_a);
is(length($cert_id), 32, 'blob ID text decodes to 32 bytes');

my %sigs;

sub signature {
    my ($node, $epoch, $id) = @_;
    my $key = "$node/$epoch/" . unpack('H*', $id);
    return $sigs{$key} if exists $sigs{$key};

    spew("$dir/msg", 'walrus-confirm:1' . pack('V', $epoch) . $id);
    unlink "$dir/sig";
    system("openssl pkeyutl -sign -inkey $dir/node$node.key -rawin"
           . " -in $dir/msg -out $dir/sig 2>/dev/null") == 0
        or die "openssl pkeyutl failed";
    my $sig = slurp("$dir/sig");
    die 'bad signature length' unless length($sig) == 64;

    return $sigs{$key} = $sig;
}

# signers: list of node indexes, or [node, signature] pairs
sub certificate {
    my ($epoch, $id, @signers) = @_;
    my $cert = pack('C V a32 v', 1, $epoch, $id, scalar @signers);

    for my $s (@signers) {
        my ($node, $sig) = ref $s ? @$s : ($s, signature($s, $epoch, $id));
        $cert .= pack('v a64', $node, $sig);
    }

    return $cert;
}

my $n_cert = 0;

sub verify {
    my ($cert, @args) = @_;
    my $path = "$dir/cert-" . $n_cert++;
    spew($path, $cert);
    return ctl('verify-cert', @args, $path);
}

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 2, 3, 5, 6));
is($rc, 0, 'certificate with 5 of 7 signers verifies') or diag $err;
is($out, "valid: blob $id_a, epoch 1, signers node0,node2,node3,node5,node6"
         . " (5 of 7 shards, quorum 5)\n"
         . "checked against the committee of epoch 1 (current epoch 1)\n",
   '... and says who signed and which committee checked it');

($rc, $out, $err) = verify(certificate(1, $cert_id, 0 .. 6));
is($rc, 0, 'certificate with all 7 signers verifies') or diag $err;

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 2, 3, 5, 6),
                           '--blob-id', $id_a);
is($rc, 0, 'verify-cert --blob-id with its blob ID exits 0') or diag $err;

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 2, 3, 5, 6),
                           '--blob-id', $id_c);
is($rc, 1, 'verify-cert --blob-id with another blob ID exits 1');
like($err, qr/^walrusctl: .*blob/m, '... saying the blob differs');

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 1, 2, 3));
is($rc, 1, 'certificate with 4 signers exits 1');
like($err, qr/^walrusctl: .*quorum.*4 of 7/m,
     '... mentioning the quorum and the count');

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 1, 2, 3, 2));
is($rc, 1, 'certificate with 4 distinct signers and a duplicate exits 1');
like($err, qr/^walrusctl: .*malformed.*signer 4 is node index 2 after 3/m,
     '... as malformed, naming the entry out of order');

($rc, $out, $err) = verify(certificate(1, $cert_id, 0 .. 4, (4) x 250));
is($rc, 1, 'certificate of 5 signers and 250 repeats exits 1');
like($err, qr/^walrusctl: .*signer 5 is node index 4 after 4/m,
     '... naming the first repeat');

($rc, $out, $err) = verify(certificate(1, $cert_id, 1, 0, 2, 3, 4));
is($rc, 1, 'certificate of 5 valid signers out of order exits 1');
like($err, qr/increasing order/, '... saying why');

($rc, $out, $err) = verify(certificate(2, $cert_id, 0, 1, 2, 3, 4));
is($rc, 1, 'certificate for another epoch exits 1');
like($err, qr/^walrusctl: .*for epoch 2, .* holds epochs 1 to 1$/m,
     '... naming the epoch and those of the committee');

{
    my $sig = signature(3, 1, $cert_id);
    substr($sig, 10, 1) = chr(ord(substr($sig, 10, 1)) ^ 0x01);
    ($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 1, 2, [3, $sig],
                                           4));
    is($rc, 1, 'certificate with a flipped signature byte exits 1');
    like($err, qr/^walrusctl: .*bad signature from node3/m,
         '... naming the node');

    ($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 1, 2, 3,
                                           [4, signature(5, 1, $cert_id)]));
    is($rc, 1, "certificate with another node's signature exits 1");
}

($rc, $out, $err) = verify(certificate(1, $cert_id, 0, 1, 2, 3,
                                       [9, signature(4, 1, $cert_id)]));
is($rc, 1, 'certificate naming a node outside the committee exits 1');

($rc, $out, $err) = verify(encode_base64url(
                               certificate(1, $cert_id, 1, 2, 3, 4, 5))
                           . "\n");
is($rc, 0, 'base64url text form of a valid certificate verifies')
    or diag $err;
like($out, qr/^valid: /, '... and says so');

($rc, $out, $err) = verify(encode_base64url(
                               certificate(1, $cert_id, 1, 2, 3, 4)));
is($rc, 1, 'base64url text form of a 4-signer certificate exits 1');

($rc, $out, $err) = verify(random_bytes(200));
ok($rc == 1 || $rc == 3, 'garbage certificate exits 1 or 3');
like($err, qr/^walrusctl: .*cert-\d+: .*malformed/m,
     '... saying it is malformed');

($rc, $out, $err) = verify("not a certificate\n");
ok($rc == 1 || $rc == 3, 'text that is not base64url exits 1 or 3');

($rc, $out, $err) = verify(substr(certificate(1, $cert_id, 0 .. 4), 0, -1));
is($rc, 1, 'truncated certificate exits 1');

($rc, $out, $err) = ctl('verify-cert', "$dir/no-such-cert");
is($rc, 3, 'missing certificate file exits 3');
like($err, qr/no-such-cert/, '... naming it');

# ---------------------------------------------------------------- registrations

my $pub_committee = "$dir/pub-committee.json";
($rc, $out, $err) = run('keygen', "$dir/publisher");
is($rc, 0, 'keygen of a publisher key') or diag $err;
my $c_text = slurp($committee);
$c_text =~ s/\}$/,"publishers":[{"name":"script","public_key_file":"publisher.pub"}]}/
    or die 'committee';
spew($pub_committee, $c_text);

my $pub_der = `openssl pkey -in $dir/publisher.key -pubout -outform DER`;
is(length $pub_der, 44, 'openssl gives the public key');

# the documented bytes, signed by openssl: Ed25519 signatures are
# deterministic, so walrusctl must give exactly these
sub registration {
    my ($id, $length, $end, $deletable) = @_;
    my $msg = 'walrus-register:1'
        . pack('V a32 Q< V C a32', 1, $id, $length, $end, $deletable,
               substr($pub_der, 12));
    spew("$dir/msg", $msg);
    unlink "$dir/sig";
    system("openssl pkeyutl -sign -inkey $dir/publisher.key -rawin"
           . " -in $dir/msg -out $dir/sig 2>/dev/null") == 0
        or die "openssl pkeyutl failed";
    return $msg . slurp("$dir/sig");
}

($rc, $out, $err) = run('-c', $pub_committee, 'register', '--key',
                        "$dir/publisher.key", '-o', "$dir/a.reg",
                        "$dir/a.bin");
is($rc, 0, 'register -o exits 0') or diag $err;
is($out, "$id_a\n", '... printing the blob ID');
is(length(slurp("$dir/a.reg") // ''), 162, '... writing 162 bytes');
ok(slurp("$dir/a.reg") eq registration($cert_id, length $data, 2, 1),
   '... the documented registration: one epoch, deletable');

($rc, $out, $err) = run('-c', $pub_committee, 'register', '--epochs=5',
                        '--permanent', "--key=$dir/publisher.key",
                        "$dir/a.bin");
is($rc, 0, 'register without -o exits 0') or diag $err;
chomp $out;
ok(decode_base64url($out) eq registration($cert_id, length $data, 6, 0),
   '... printing it in base64url: --epochs 5 ends at 6, --permanent');

($rc, $out, $err) = run({ stdin => "$dir/a.bin" }, '-c', $pub_committee,
                        'register', '--key', "$dir/publisher.key",
                        '--deletable', '--epochs', '53', '-');
is($rc, 0, 'register reads stdin') or diag $err;
chomp $out;
ok(decode_base64url($out) eq registration($cert_id, length $data, 54, 1),
   '... --epochs 53, --deletable');

($rc, $out, $err) = run('-c', $pub_committee, 'register', '--key',
                        "$dir/node0.key", "$dir/a.bin");
is($rc, 1, 'a key that is no publisher\'s exits 1');
like($err, qr/not the key of a publisher of the committee/, '... saying so');

($rc, $out, $err) = ctl('register', '--key', "$dir/publisher.key",
                        "$dir/a.bin");
is($rc, 1, 'a committee without publishers: exit 1');

($rc, $out, $err) = run('-c', $pub_committee, 'register', '--key',
                        "$dir/nowhere.key", "$dir/a.bin");
is($rc, 3, 'a missing key file exits 3');
like($err, qr/nowhere\.key/, '... naming it');

($rc, $out, $err) = run('-c', $pub_committee, 'register', '--key',
                        "$dir/publisher.pub", "$dir/a.bin");
is($rc, 3, 'a public key as --key exits 3');

for my $bad (['--epochs', '0'], ['--epochs', '54'], ['--epochs', '1x'],
             ['--epochs', ''], ['--permanent', '--deletable'], ['--key'],
             ['--blob-id', $id_a])
{
    my @key = grep({ $_ eq '--key' } @$bad) ? () : ('--key',
                                                    "$dir/publisher.key");
    ($rc, $out, $err) = run('-c', $pub_committee, 'register', @key, @$bad,
                            "$dir/a.bin");
    is($rc, 2, "register @$bad: exit 2");
    is($out, '', '... and nothing on stdout');
}

($rc, $out, $err) = run('-c', $pub_committee, 'register', "$dir/a.bin");
is($rc, 2, 'register without --key exits 2');
like($err, qr/register needs --key/, '... saying so');

# ---------------------------------------------------------------- usage

($rc, $out, $err) = run();
is($rc, 2, 'no arguments exit 2');
like($err, qr/usage: walrusctl/, '... with the usage on stderr');

($rc, $out, $err) = run('frobnicate');
is($rc, 2, 'an unknown command exits 2');
like($err, qr/^walrusctl: unknown command "frobnicate"/m, '... naming it');
like($err, qr/usage: walrusctl/, '... with the usage');

($rc, $out, $err) = ctl('encode', "$dir/a.bin");
is($rc, 2, 'encode with one argument exits 2');
like($err, qr/encode expects FILE DIR/, '... saying what it expects');

($rc, $out, $err) = ctl('blob-id', '--blob-id', $id_a, "$dir/a.bin");
is($rc, 2, '--blob-id on a command without it exits 2');

for my $help (['-h'], ['--help'], ['help']) {
    ($rc, $out, $err) = run(@$help);
    is($rc, 0, "@$help exits 0");
    my @missing = grep { $out !~ /^  \Q$_\E /m }
                  qw(blob-id encode decode keygen verify-cert register record
                     self-test
                     help);
    is("@missing", '', "@$help lists every command");
}

($rc, $out, $err) = run('self-test');
is($rc, 0, 'self-test: the leaf hashing agrees with OpenSSL') or diag $err;
like($out, qr/^(multi-buffer|OpenSSL) SHA-256 \(.*\)$/,
     '... and says which engine runs');

SKIP: {
    skip 'no multi-buffer SHA-256 here', 4 unless $out =~ /^multi-buffer/;

    # a digest made wrong on purpose: the fallback keeps the bytes right
    local $ENV{WALRUS_SHA256} = 'test-mismatch';

    ($rc, $out, $err) = run('self-test');
    is($rc, 1, 'a self-test mismatch exits 1');
    like($out,
         qr/^OpenSSL SHA-256: .*self-test failed on 65537-byte .*disabled/,
         '... names the size and falls back to OpenSSL');

    ($rc, $out, $err) = ctl('blob-id', "$dir/a.bin");
    is($out, "$id_a\n", '... and the blob ID stays the same') or diag $err;

    ctl('encode', "$dir/in-100000.bin", "$dir/enc-mismatch");
    my @differ = grep {
        (slurp("$dir/enc-mismatch/$_") // '') ne slurp("$dir/enc-100000/$_")
    } 'metadata', 'blob-id',
      map { ("$_.primary", "$_.secondary") } 0 .. $N - 1;
    is("@differ", '', '... as do the metadata and the slivers');
}

($rc, $out, $err) = run('-c', "$dir/none/committee.json", 'blob-id',
                        "$dir/a.bin");
is($rc, 3, 'a missing committee file exits 3');
like($err, qr/^walrusctl: .*\Q$dir\E\/none\/committee\.json/m,
     '... naming it');

($rc, $out, $err) = run({ cwd => $dir }, 'blob-id', "$dir/a.bin");
is($rc, 0, 'without -c, ./committee.json is used') or diag $err;
is($out, "$id_a\n", '... and gives the same blob ID');

($rc, $out, $err) = run({ cwd => '/', env => $committee }, 'blob-id',
                        "$dir/a.bin");
is($rc, 0, 'WALRUS_COMMITTEE names the committee file') or diag $err;

($rc, $out, $err) = run({ cwd => "$dir/enc-0" }, 'blob-id', "$dir/a.bin");
is($rc, 3, 'without -c and ./committee.json, exit 3');
like($err, qr/committee\.json/, '... naming committee.json');

spew("$dir/bad-committee.json", '{"epoch":1}');
($rc, $out, $err) = run('-c', "$dir/bad-committee.json", 'blob-id',
                        "$dir/a.bin");
is($rc, 3, 'an invalid committee file exits 3');
like($err, qr/^walrusctl: .*bad-committee\.json/m, '... naming it');

done_testing();
