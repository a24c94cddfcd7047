# A 100 MiB upload: stored under walrusctl's blob ID, the worker's memory
# grows by a few segments, not by the blob, and only the parity slivers
# are written to a temporary file besides the body.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $MiB = 1024 * 1024;
my $t = WalrusTest->new(n => 7, segment_size => $MiB);
my $dir = $t->dir;

$t->write_config(gateway => 1, gateway_extra =>
                 'walrus_gateway_max_blob_size 200m;')->run;

# warm the worker up with a small upload first
my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs', 'warm up' x 1000);
is($res->{status}, 200, 'a small upload succeeds');

my ($worker) = $t->worker_pids;
my $before = WalrusTest::peak_rss($worker);

# bytes the worker (gateway and nodes) dirtied in files
sub written {
    my $io = WalrusTest::read_file("/proc/$worker/io") // '';
    return $io =~ /^write_bytes:\s+(\d+)/m ? $1 : 0;
}
ok($before > 0, "worker peak RSS before: $before KiB");

srand(42);
my $mib = pack 'N*', map { int rand 2**32 } 1 .. $MiB / 4;
my $blob = join '', map { pack('N', $_) . substr($mib, 4) } 1 .. 100;
WalrusTest::write_file("$dir/big.bin", $blob);

my $written = written();
$res = $t->request('PUT', $t->gateway_url . '/v1/blobs', $blob);
is($res->{status}, 200, 'a 100 MiB upload succeeds');
$written = (written() - $written) / length $blob;
my $data = eval { JSON::PP->new->decode($res->{content}) };
my $id = `$WalrusTest::CTL -c $dir/committee.json blob-id $dir/big.bin`;
chomp $id;
is($data && $data->{newlyCreated}{blobObject}{blobId}, $id,
   '... under the blob ID walrusctl computes');

my $after = WalrusTest::peak_rss($worker);
my $growth = ($after - $before) / 1024;
diag(sprintf 'worker peak RSS %d KiB -> %d KiB (+%.1f MiB)', $before, $after,
     $growth);
ok($growth < 24, sprintf('the worker grew by %.1f MiB (< 24 MiB) for a '
                         . '100 MiB blob', $growth));

# n = 7: the sliver pairs are 56/15 of the blob; the parity slivers 26/15.
# The client's body (1), the parity file (1.73), the nodes' slivers (3.73)
diag(sprintf 'files written: %.2f times the blob', $written);
ok($written < 7, sprintf('the upload wrote %.2f times the blob to files '
                         . '(< 7: no copy of the systematic slivers)',
                         $written));

$t->stop;
done_testing();
