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

# the nodes' uploads hold their batches in at most 4 MiB together
$t->write_config(http => "    walrus_node_upload_buffers 4m;\n",
                 gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_blob_size 200m;
        }
EOF

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
ok($before > 0, 'the worker\'s peak RSS can be read')
    or BAIL_OUT("no VmHWM for worker $worker");

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

# The bound: the worker grew by 8.7 to 9.0 MiB in three runs
# (2026-12-02), about nine 1 MiB segments.  The nodes, which share this
# worker, stream each sliver upload through a batch of slices that fills
# the hashing lanes (4 slices at n = 7 with their parity symbols, about
# 2 MiB per upload) held until the upload ends; walrus_node_upload_buffers
# (4 MiB here) bounds what they hold together: 9.2 to 11.1 MiB in three
# runs (2026-12-03; 33 MiB with the default 64 MiB, all 14 uploads at
# once).  20 MiB leaves room for the allocator and still fails when any
# part of the blob (100 MiB) is kept in memory.
my $after = WalrusTest::peak_rss($worker);
my $growth = ($after - $before) / 1024;
ok($growth < 20, sprintf('the worker grew by %.1f MiB (< 20 MiB) for a '
                         . '100 MiB blob (%d KiB -> %d KiB)', $growth,
                         $before, $after));

# n = 7: the sliver pairs are 56/15 of the blob; the parity slivers 26/15.
# The client's body (1), the parity file (1.73), the nodes' slivers
# (3.73): 6.47, and 6.38 to 6.48 were measured (2026-12-02); 5.52 to 6.07
# since the nodes write past the page cache (2026-12-03).  Below
# 56/15 the nodes did not all store their slivers, or the reading does
# not see the writes (TMPDIR on tmpfs) and the upper bound could not
# fail.  6.75 leaves 4 % for metadata and certificates and fails when a
# quarter of the blob is written once more (copying the systematic
# slivers, 8.5 before they were sent from the body, would fail).
ok($written > 56 / 15, sprintf('the upload wrote %.2f times the blob to '
                               . 'files (> 3.73: the nodes\' slivers)',
                               $written));
ok($written < 6.75, sprintf('... and less than 6.75 times (%.2f): no copy '
                            . 'of the systematic slivers', $written));

$t->stop;
done_testing();
