#!/usr/bin/perl
#
# walrusctl with a committee history (docs/protocol.md section 18): -c
# names a directory of one committee file per epoch; verify-cert checks a
# certificate against the committee of its own epoch and says which, the
# commands that make things use the newest epoch, and a directory that
# breaks a rule is refused with its reason.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64url decode_base64url);

use lib 't/lib';
use WalrusTest ();

my $bin = File::Spec->rel2abs('build/walrusctl');
-x $bin or BAIL_OUT("$bin: run `make all` from the repo root first");

my $dir = tempdir('walrusctl-epochs-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $hist = "$dir/history";

# walrusctl [{ env => WALRUS_COMMITTEE }] ARGS: (exit code, stdout, stderr)
sub run {
    return WalrusTest::capture(ref $_[0] eq 'HASH' ? shift : {}, $dir, $bin,
                               @_);
}

sub slurp { WalrusTest::read_file(@_) }
sub spew { WalrusTest::write_file(@_) }

# ---------------------------------------------------------------- history

# node0..node6 in epoch 1; node5 and node6 leave in epoch 2 for node7 and
# node8 (new keys); in epoch 3 node8 and node7 swap their shards; the
# publisher p1 of epoch 1 gives way to p2

mkdir $hist or die "mkdir: $!";
mkdir "$hist/keys" or die "mkdir: $!";

for my $name ((map { "node$_" } 0 .. 8), 'p1', 'p2') {
    my ($rc, $out, $err) = run('keygen', "$hist/keys/$name");
    $rc == 0 or BAIL_OUT("keygen $name: $err");
}

sub committee_json {
    my ($epoch, $n, $seg, $pub, @nodes) = @_;
    my $shard = 0;

    return qq({"epoch":$epoch,"n_shards":$n,"segment_size":$seg,"nodes":[)
        . join(',', map {
              my $s = $shard++;
              qq({"name":"node$_","url":"http://127.0.0.1:91$_",)
              . qq("shards":[$s],"public_key_file":"keys/node$_.pub"})
          } @nodes)
        . qq(],"publishers":[{"name":"$pub",)
        . qq("public_key_file":"keys/$pub.pub"}]});
}

my @epochs = (
    [ 'p1', 0, 1, 2, 3, 4, 5, 6 ],
    [ 'p2', 0, 1, 2, 3, 4, 7, 8 ],
    [ 'p2', 0, 1, 2, 3, 4, 8, 7 ],
);

for my $e (1 .. 3) {
    spew("$hist/$e.json", committee_json($e, 7, 4096, @{ $epochs[$e - 1] }));
}

# ---------------------------------------------------------------- certificates

spew("$dir/a.bin", 'a blob of the first epoch' x 40);

my ($rc, $out, $err) = run('-c', $hist, 'blob-id', "$dir/a.bin");
is($rc, 0, '-c DIR: blob-id') or diag $err;
chomp(my $id_text = $out);
my $id = decode_base64url($id_text);
is(length $id, 32, '... a blob ID');

($rc, $out, $err) = run('-c', "$hist/3.json", 'blob-id', "$dir/a.bin");
is($out, "$id_text\n", '... the same as with the file of the current epoch');

# the Ed25519 signature of $msg by keys/$key.key, made by openssl
sub sign {
    my ($key, $msg) = @_;

    spew("$dir/msg", $msg);
    unlink "$dir/sig";
    system("openssl pkeyutl -sign -inkey $hist/keys/$key.key -rawin"
           . " -in $dir/msg -out $dir/sig 2>/dev/null") == 0
        or die 'openssl pkeyutl failed';

    return slurp("$dir/sig");
}

# a node's confirmation: the documented message
sub signature {
    my ($key, $epoch) = @_;
    return sign($key, 'walrus-confirm:1' . pack('V', $epoch) . $id);
}

# signers: [node index, key name] in index order
sub certificate {
    my ($epoch, @signers) = @_;
    my $cert = pack('C V a32 v', 1, $epoch, $id, scalar @signers);

    for my $s (@signers) {
        $cert .= pack('v a64', $s->[0], signature($s->[1], $epoch));
    }

    return $cert;
}

my $n_cert = 0;

sub verify {
    my ($committee, $cert, @args) = @_;
    my $path = "$dir/cert-" . $n_cert++;
    spew($path, $cert);
    return run('-c', $committee, 'verify-cert', @args, $path);
}

my @old = ([0, 'node0'], [1, 'node1'], [2, 'node2'], [5, 'node5'],
           [6, 'node6']);
my @new = ([0, 'node0'], [1, 'node1'], [2, 'node2'], [5, 'node7'],
           [6, 'node8']);
my $cert1 = certificate(1, @old);

($rc, $out, $err) = verify($hist, $cert1, '--blob-id', $id_text);
is($rc, 0, 'a certificate of epoch 1 verifies in epoch 3') or diag $err;
is($out, "valid: blob $id_text, epoch 1, signers node0,node1,node2,node5,"
         . "node6 (5 of 7 shards, quorum 5)\n"
         . "checked against the committee of epoch 1 (current epoch 3)\n",
   '... signed by node5 and node6, who left, and says epoch 1');

($rc, $out, $err) = verify("$hist/", encode_base64url($cert1));
is($rc, 0, '... as text, and DIR/ with a slash') or diag $err;

($rc, $out, $err) = verify("$hist/3.json", $cert1);
is($rc, 1, 'the current file alone refuses it');
like($err, qr/for epoch 1, the committee history holds epochs 3 to 3$/m,
     '... saying which epochs it holds');

($rc, $out, $err) = verify("$hist/1.json", $cert1);
is($rc, 0, 'the file of epoch 1 alone takes it') or diag $err;
like($out, qr/^checked against the committee of epoch 1 \(current epoch 1\)$/m,
     '... and says so');

($rc, $out, $err) = verify($hist, certificate(1, @new));
is($rc, 1, 'the new nodes\' keys naming epoch 1 do not verify');
like($err, qr/^walrusctl: .*bad signature from node5/m,
     '... node5\'s place in epoch 1 is not node7\'s key');

($rc, $out, $err) = verify($hist, certificate(2, @new));
is($rc, 0, 'naming epoch 2 they do') or diag $err;
like($out, qr/epoch 2, signers node0,node1,node2,node7,node8 .*\n/,
     '... signed by node7 and node8');
like($out, qr/^checked against the committee of epoch 2 /m,
     '... checked against epoch 2');

($rc, $out, $err) = verify($hist, certificate(3, @new));
is($rc, 1, 'epoch 3 with the places of epoch 2 does not verify');

($rc, $out, $err) = verify($hist, certificate(3, [0, 'node0'], [1, 'node1'],
                                              [2, 'node2'], [5, 'node8'],
                                              [6, 'node7']));
is($rc, 0, '... with those of epoch 3 it does') or diag $err;

($rc, $out, $err) = verify($hist, certificate(4, @new));
is($rc, 1, 'a certificate of epoch 4 exits 1');
like($err, qr/for epoch 4, the committee history holds epochs 1 to 3$/m,
     '... naming the epochs the history holds');

($rc, $out, $err) = verify($hist, certificate(1, @old[0 .. 3]));
is($rc, 1, 'four signers of epoch 1 exit 1');
like($err, qr/below quorum: the signers hold 4 of 7 shards/,
     '... below the quorum of epoch 1');

($rc, $out, $err) = run({ env => $hist }, 'verify-cert', "$dir/cert-0");
is($rc, 0, 'WALRUS_COMMITTEE may name the directory') or diag $err;

($rc, $out, $err) = run("--committee=$hist", 'verify-cert', "$dir/cert-0");
is($rc, 0, '... and --committee=DIR') or diag $err;

# ---------------------------------------------------------------- making

($rc, $out, $err) = run('-c', $hist, 'register', '--key',
                        "$hist/keys/p2.key", '--epochs', '2', "$dir/a.bin");
is($rc, 0, 'register with p2, a publisher of epoch 3') or diag $err;
chomp $out;
my $reg = decode_base64url($out);
is(length $reg, 162, '... 162 bytes');
is(join(' ', unpack('x17 V x40 V', $reg)), '3 5',
   '... made in epoch 3, ending at 5');

($rc, $out, $err) = run('-c', $hist, 'register', '--key',
                        "$hist/keys/p1.key", "$dir/a.bin");
is($rc, 1, 'p1, a publisher of epoch 1 only, cannot register now');

($rc, $out, $err) = run('-c', $hist, 'encode', "$dir/a.bin", "$dir/enc");
is($rc, 0, 'encode with -c DIR') or diag $err;
is(slurp("$dir/enc/blob-id"), "$id_text\n", '... the same blob ID');

# ---------------------------------------------------------------- record

# a listing of one entry (protocol section 16): the certificate of epoch 1
# and p1's registration made in epoch 1, in force until epoch 5

sub registration {
    my ($key, $epoch, $end) = @_;
    my $der = `openssl pkey -in $hist/keys/$key.key -pubout -outform DER`;
    my $msg = 'walrus-register:1'
        . pack('V a32 Q< V C a32', $epoch, $id, 1000, $end, 1,
               substr($der, 12));

    return $msg . sign($key, $msg);
}

my $body = pack('v/a v/a', $cert1, registration('p1', 1, 5));
spew("$dir/listing", pack('V', length $body) . $body
                     . substr(sha256($body), 0, 8));

($rc, $out, $err) = run('-c', $hist, 'record', "$dir/listing");
is($rc, 0, 'record -c DIR: an entry of epoch 1 in epoch 3') or diag $err;
like($out, qr/^32 \Q$id_text\E epoch 1 signers 0,1,2,5,6 end-epoch 5 valid$/m,
     '... is valid: its certificate and p1\'s registration of epoch 1');

($rc, $out, $err) = run('-c', "$hist/3.json", 'record', "$dir/listing");
is($rc, 1, 'with the file of epoch 3 alone it is not');
like($err, qr/does not verify: epoch not in the committee history/,
     '... for want of epoch 1');

# ---------------------------------------------------------------- refused

sub broken {
    my ($name, %files) = @_;
    my $d = "$dir/$name";

    mkdir $d or die "mkdir $d: $!";
    symlink "$hist/keys", "$d/keys" or die "symlink: $!";
    spew("$d/$_", $files{$_}) for keys %files;

    return $d;
}

my %json = map { ("$_.json" => slurp("$hist/$_.json")) } 1 .. 3;

for my $case (
    [ 'gap', { '1.json' => $json{'1.json'}, '3.json' => $json{'3.json'} },
      qr/gap: no file for epoch 2 between 1\.json and 3\.json/ ],
    [ 'mismatch', { '1.json' => $json{'1.json'}, '2.json' => $json{'3.json'} },
      qr/mismatch\/2\.json: epoch 3 in a file named for epoch 2/ ],
    [ 'leading-zero', { %json, '02.json' => $json{'2.json'} },
      qr/02\.json: not a committee file name/ ],
    [ 'n', { '1.json' => $json{'1.json'},
             '2.json' => committee_json(2, 8, 4096, @{ $epochs[0] }, 7) },
      qr/n\/2\.json: n_shards is 8, it was 7 in epoch 1/ ],
    [ 'segment', { '1.json' => $json{'1.json'},
                   '2.json' => committee_json(2, 7, 8192, @{ $epochs[1] }) },
      qr/segment\/2\.json: segment_size is 8192, it was 4096 in epoch 1/ ],
    [ 'garbage', { %json, '2.json' => "not json\n" },
      qr/garbage\/2\.json: line 1/ ],
    [ 'empty', {}, qr/empty: no committee file/ ])
{
    my ($name, $files, $want) = @$case;
    my $d = broken($name, %$files);

    ($rc, $out, $err) = run('-c', $d, 'verify-cert', "$dir/cert-0");
    is($rc, 3, "$name: exit 3");
    like($err, $want, '... with the reason');
    is($out, '', '... and nothing on stdout');
}

done_testing();
