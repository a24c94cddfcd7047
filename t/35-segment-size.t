# The segment size is the committee's: nodes refuse metadata with another,
# and the gateway does not read a blob whose metadata has another (its
# segments could be far larger than what a read is sized for).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $json = JSON::PP->new;
my $t = WalrusTest->new(n => 7, segment_size => 8192);
my $dir = $t->dir;

my $blob = join '', map { chr(($_ * 13 + 5) % 256) } 1 .. 50000;

$t->write_config(gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF
my $id = $t->put_blob($blob);
ok($id, 'a blob of 8 KiB segments is stored') or BAIL_OUT('no blob');
blob_is($t->get_blob($id), $blob,
        '... and read back under the committee it was stored with');
my $meta = $t->node_request(0, 'GET', "/v1/blobs/$id/metadata")->{content};
my $res;
$t->stop;

# the same nodes and keys, with 4 KiB segments
my $committee = WalrusTest::read_file($t->committee);
$committee =~ s/"segment_size":8192/"segment_size":4096/ or die 'committee';
WalrusTest::write_file($t->committee, $committee);
$t->run;
my $mark = $t->log_mark;

$res = $t->node_request(1, 'PUT', "/v1/blobs/$id/metadata", $meta);
is($res->{status}, 400, 'a node refuses metadata of 8 KiB segments');
is(reason($res), 'INVALID_METADATA', '... as invalid metadata');
like($res->{content}, qr/segments of 8192 bytes/, '... and says why');

$res = $t->get_blob($id);
isnt($res->{status}, 200, "the gateway does not serve the stored blob "
                          . "($res->{status})");
unlike($res->{content}, qr/\Q@{[ substr($blob, 0, 32) ]}\E/,
       '... nor any of its bytes');
like($t->log_since($mark),
     qr/sent metadata \(n 7, segments of 8192 bytes\) that does not fit/,
     '... and logs why');

$t->stop;

done_testing;
