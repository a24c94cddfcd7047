# Configuration errors are caught by nginx -t with a clear message.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WalrusTest;

my $t = WalrusTest->new(n => 4, segment_size => 4096);
my $dir = $t->dir;

sub config_fails {
    my ($what, $pattern, %conf) = @_;
    $t->write_config(%conf);
    my ($passed, $out) = $t->test_config;
    ok(!$passed, "$what: nginx -t fails");
    like($out, $pattern, "... saying why");
}

# the gateway's location, with its key line and more directives
sub gateway {
    my ($key_line, $directives) = @_;
    $key_line //= 'walrus_gateway_key %%DIR%%/keys/gateway.key;';
    $directives //= '';
    return <<"EOF";
        location /v1/ {
            walrus_gateway;
            $key_line
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            $directives
        }
EOF
}

$t->write_config;
my ($passed, $out) = $t->test_config;
ok($passed, 'the generated configuration is valid') or diag($out);

config_fails('a node not in the committee', qr/node "node9" is not in/,
             nodes => 0, http => <<"END");
    server {
        listen 127.0.0.1:@{[ $t->node_port(0) ]};
        location / {
            walrus_node;
            walrus_node_name node9;
            walrus_node_key $dir/keys/node0.key;
            walrus_node_store $dir/store0;
        }
    }
END

config_fails('another node\'s key', qr/is not the key of node "node0"/,
             nodes => 0, http => <<"END");
    server {
        listen 127.0.0.1:@{[ $t->node_port(0) ]};
        location / {
            walrus_node;
            walrus_node_name node0;
            walrus_node_key $dir/keys/node1.key;
            walrus_node_store $dir/store0;
        }
    }
END

config_fails('a missing store', qr/store ".*nowhere" is not a directory/,
             nodes => 0, http => <<"END");
    server {
        listen 127.0.0.1:@{[ $t->node_port(0) ]};
        location / {
            walrus_node;
            walrus_node_name node0;
            walrus_node_key $dir/keys/node0.key;
            walrus_node_store $dir/nowhere;
        }
    }
END

config_fails('a node without a key', qr/needs "walrus_node_name", "walrus_node_key"/,
             nodes => 0, http => <<"END");
    server {
        listen 127.0.0.1:@{[ $t->node_port(0) ]};
        location / {
            walrus_node;
            walrus_node_name node0;
            walrus_node_store $dir/store0;
        }
    }
END

for my $addr ('localhost:6379', '127.0.0.1', '127.0.0.1:0', '[::1]6379') {
    config_fails("walrus_redis $addr", qr/needs a numeric/,
                 http => "    walrus_redis $addr;\n");
}

config_fails('walrus_redis on a unix path of 200 bytes',
             qr/unix socket path longer than a socket address holds/,
             http => "    walrus_redis unix:/" . ('r' x 199) . ";\n");

for my $addr ('[::1]:6379', '127.0.0.1:6379', 'unix:/run/redis.sock') {
    $t->write_config(http => "    walrus_redis $addr;\n");
    ($passed, $out) = $t->test_config;
    ok($passed, "walrus_redis $addr is accepted") or diag($out);
}

# cache keys have room for a prefix of 256 bytes, and no more
config_fails('a Redis key prefix of 257 bytes',
             qr/"walrus_redis_prefix" is longer than 256 bytes/,
             http => "    walrus_redis_prefix " . ('p' x 257) . ";\n");
$t->write_config(http => "    walrus_redis_prefix " . ('p' x 256) . ";\n");
($passed, $out) = $t->test_config;
ok($passed, 'a Redis key prefix of 256 bytes is accepted') or diag($out);

config_fails('walrus_worker_spare_buffers lots', qr/"walrus_worker_spare_buffers" directive invalid value/,
             http => "    walrus_worker_spare_buffers lots;\n");

config_fails('walrus_worker_spare_buffers in a server',
             qr/"walrus_worker_spare_buffers" directive is not allowed/,
             gateway => gateway(undef, 'walrus_worker_spare_buffers 1m;'));

config_fails('walrus_gateway_slow_timeout soon',
             qr/"walrus_gateway_slow_timeout" directive invalid value/,
             gateway => gateway(undef, 'walrus_gateway_slow_timeout soon;'));

# a gateway signs registrations with a publisher key of the committee

$t->write_config(gateway => gateway());
($passed, $out) = $t->test_config;
ok($passed, 'a gateway with the publisher key is valid') or diag($out);

sub gateway_conf {
    my ($key_line) = @_;
    $t->write_config(gateway => gateway($key_line));
    return $t->test_config;
}

($passed, $out) = gateway_conf('');
ok(!$passed, 'a gateway without walrus_gateway_key: nginx -t fails');
like($out, qr/"walrus_gateway" needs "walrus_gateway_key": an Ed25519(?x)
              \ private\ key\ whose\ public\ key\ is\ listed\ in\ the
              \ committee's\ "publishers"/, '... saying what to add');

($passed, $out) = gateway_conf('walrus_gateway_key %%DIR%%/keys/node1.key;');
ok(!$passed, 'a gateway key that is no publisher\'s: nginx -t fails');
like($out, qr/the key ".*node1\.key" is not the key of a publisher in/,
     '... saying so');

($passed, $out) = gateway_conf('walrus_gateway_key %%DIR%%/keys/gateway.pub;');
ok(!$passed, 'a public key as walrus_gateway_key: nginx -t fails');
like($out, qr/cannot load the Ed25519 private key ".*gateway\.pub"/,
     '... saying so');

# without publishers nodes start, refusing every upload, and no gateway
my $c = WalrusTest::read_file($t->committee);
$c =~ s/,"publishers":\[[^\]]*\]// or die 'no publishers in the committee';
WalrusTest::write_file($t->committee, $c);

$t->write_config;
($passed, $out) = $t->test_config;
ok($passed, 'nodes of a committee without publishers are valid')
    or diag($out);
like($out, qr/\[warn\].*lists no publishers: node "node0" will refuse/,
     '... with a warning');
config_fails('a gateway of a committee without publishers',
             qr/is not the key of a publisher/, gateway => gateway());

WalrusTest::write_file("$dir/bad.json", '{"epoch": 1, "n_shards": 3}');
$t->write_config;
my $conf = WalrusTest::read_file("$dir/nginx.conf");
$conf =~ s{walrus_committee \S+;}{walrus_committee $dir/bad.json;};
WalrusTest::write_file("$dir/nginx.conf", $conf);
($passed, $out) = $t->test_config;
ok(!$passed, 'an invalid committee file: nginx -t fails');
like($out, qr/invalid committee file ".*bad\.json"/, '... naming the file');

done_testing();
