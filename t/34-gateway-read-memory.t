# A read's memory does not grow with the number of segments: the node
# requests of a segment (nginx subrequests) are freed once the segment
# went out, not kept until the read ends.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WalrusTest;

my $KiB = 1024;
my $MiB = 1024 * $KiB;
my $SEGMENT = 64 * $KiB;
my $t = WalrusTest->new(n => 7, segment_size => $SEGMENT);

$t->write_config(gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

my $small = WalrusTest::pattern_blob($MiB, 1);
my $large = WalrusTest::pattern_blob(48 * $MiB, 2);
my $small_id = $t->put_blob($small);
my $large_id = $t->put_blob($large);
ok($small_id && $large_id, 'blobs of 16 and 768 segments are stored')
    or BAIL_OUT('no blobs to read');

sub read_ok {
    my ($id, $blob, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    blob_is($t->get_blob($id), $blob, $name);
}

# a fresh worker, warmed by reads that fill its spare buffers
$t->restart;
my ($worker) = $t->worker_pids;
read_ok($small_id, $small, "the $_. read of 16 segments is whole") for 1 .. 3;
my $before = WalrusTest::peak_rss($worker);

read_ok($large_id, $large, 'a read of 768 segments is whole');
my $after = WalrusTest::peak_rss($worker);
my $growth = ($after - $before) / 1024;

# 768 segments made 2304 node requests of about 12 KiB each: 27 MiB if
# they were kept until the read ends
cmp_ok($growth, '<', 6,
       sprintf('the worker grew by %.1f MiB reading 768 segments after '
               . 'reads of 16', $growth));

$t->stop;

done_testing;
