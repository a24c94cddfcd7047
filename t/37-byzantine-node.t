# One byzantine node of seven (f = 2) answers the gateway's metadata and
# certificate requests with lies: a certificate of 5 valid signers and 250
# repeats of one of them, the valid certificate of another blob, 64 MiB of
# metadata.  Reads (cold: no Redis, no worker cache) and a repeated upload
# of the same bytes (the alreadyCertified answer) still get the right
# answer from the six honest nodes, and the lie is logged and dropped.
#
# Every node sits behind a relay.  The liar's relay answers first; the
# honest relays hold their metadata (certificate) answers until 300 ms
# after it has answered a metadata (certificate) request, so that the
# gateway meets the lie before the truth.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use WalrusTest;

my $t = WalrusTest->new(n => 7, segment_size => 65536);
my $dir = $t->dir;
my $n = $t->n;
my $P = 'WalrusTest::Proto';
my $json = JSON::PP->new;
my $LIAR = 0;
my $BIG = 64 * 1024 * 1024;

my ($nodes, @real) = $t->moved_nodes;

# what the liar says instead of the truth, or undef
sub lie {
    my ($what) = @_;
    my $mode = WalrusTest::read_file("$dir/mode") // 'honest';
    my $body;
    if ($what eq 'certificate' && $mode =~ /^(cert255|othercert)$/) {
        $body = WalrusTest::read_file("$dir/lie-$mode");
    } elsif ($what eq 'metadata' && $mode eq 'bigmeta') {
        $body = "\x01" x $BIG;
    }
    return unless defined $body;
    return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . "Connection: keep-alive\r\n\r\n$body";
}

sub relay_connection {
    my ($c, $i) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my ($method, $what) =
            $h =~ m{^(\S+) /v1/blobs/[A-Za-z0-9_-]{43}/(\w+) };
        my $held = defined $what && $method eq 'GET'
                   && ($what eq 'metadata' || $what eq 'certificate');

        if ($held && $i == $LIAR) {
            my $answer = lie($what) // WalrusTest::forward($real[$i], $h,
                                                           $body);
            print $c $answer;
            WalrusTest::write_file("$dir/answered-$what", '');
            next;
        }

        # the gateway has had the lie for a while: it reads it first
        if ($held) {
            my $until = time + 5;
            sleep 0.01 while !-e "$dir/answered-$what" && time < $until;
            sleep 0.3;
        }

        # a node gone (nginx stopping): the gateway must not wait for it
        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        print $c $answer;
    }
}

sub mode {
    WalrusTest::write_file("$dir/mode", $_[0]);
}

# a request once the liar may answer again first
sub gateway {
    my ($method, $path, $body) = @_;
    unlink "$dir/answered-metadata", "$dir/answered-certificate";
    return $t->request($method, $t->gateway_url . $path, $body);
}

sub decode { eval { $json->decode($_[0]{content}) } || {} }

# how often error.log says, after $mark, that the liar's answer was
# dropped
sub said {
    my ($mode, $mark) = @_;
    my $log = $t->log_since($mark);
    my $re = $mode eq 'bigmeta'
        ? qr{node node$LIAR answered /v1/blobs/\S+/metadata with more than}
        : qr{node node$LIAR sent a certificate that is not a valid one of blob};
    return scalar(() = $log =~ /$re/g);
}

sub worker_peak {
    my ($pid) = $t->worker_pids;
    return $pid ? WalrusTest::peak_rss($pid) : 0;
}

# signer names of a certificate in JSON: each once, in node order, a
# committee node, a quorum between them
sub signers_ok {
    my ($c) = @_;
    my @s = @{$c->{signers} // []};
    my @idx = map { /^node(\d+)$/ ? $1 : 99 } @s;
    my $ordered = !grep { $idx[$_] <= $idx[$_ - 1] } 1 .. $#idx;
    return @s >= $n - $t->f && @s <= $n && $ordered && $idx[-1] < $n
           && ($c->{weight} // 0) == @s && ($c->{quorum} // 0) == $n - $t->f;
}

# the certificate bytes: canonical, and walrusctl finds them valid
my $n_cert = 0;
sub cert_ok {
    my ($text, $id) = @_;
    my $bytes = $P->can('unb64url')->($text // '');
    return 0 if length $bytes < 39;
    my $count = unpack 'v', substr($bytes, 37, 2);
    my @idx = map { unpack 'v', substr($bytes, 39 + 66 * $_, 2) }
              0 .. $count - 1;
    return 0 if $count > $n || grep { $idx[$_] <= $idx[$_ - 1] } 1 .. $#idx;
    my $path = "$dir/cert-" . $n_cert++;
    WalrusTest::write_file($path, $bytes);
    return system("$WalrusTest::CTL -c " . $t->committee
                  . " verify-cert --blob-id $id $path > /dev/null 2>&1") == 0;
}

# the harness's node servers, moved to ports of their own, stand behind
# the relays on the committee's ports; no worker cache, so that every
# read asks the nodes
$t->write_config(down => [ 0 .. $n - 1 ], gateway => <<'EOF',
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF
                 http => "    walrus_worker_cache_size 0;\n" . $nodes);
my @relays = map {
    my $i = $_;
    $t->start_relay($i, sub { relay_connection($_[0], $i) });
} 0 .. $n - 1;
mode('honest');
$t->run;

my $blob = WalrusTest::pattern_blob(200000, 37);
my $other = WalrusTest::pattern_blob(3000, 38);
my %cert;
my ($id, $other_id);
for my $b ([\$id, $blob], [\$other_id, $other]) {
    my $r = gateway('PUT', '/v1/blobs', $b->[1]);
    my $d = decode($r)->{newlyCreated} // {};
    ${$b->[0]} = $d->{blobObject}{blobId};
    $cert{${$b->[0]} // ''} = $P->can('unb64url')->($d->{certificate}{bytes}
                                                    // '');
}
ok($id && $other_id, 'two blobs stored through the honest relays')
    or BAIL_OUT('no blobs');

# five valid signatures, then the fifth 250 times more
my $good = $cert{$id};
my @entries = map { substr($good, 39 + 66 * $_, 66) } 0 .. 4;
WalrusTest::write_file("$dir/lie-cert255", substr($good, 0, 37)
                       . pack('v', 255) . join('', @entries)
                       . $entries[4] x 250);
WalrusTest::write_file("$dir/lie-othercert", $cert{$other_id});

my %what = (
    cert255 => 'a certificate of 5 signers and 250 repeats',
    othercert => "the certificate of another blob",
    bigmeta => '64 MiB of metadata',
);

for my $mode (qw(cert255 othercert bigmeta)) {
    mode($mode);
    my $lie = $what{$mode};
    my $before = worker_peak();
    my $mark = $t->log_mark;

    my $r = gateway('GET', "/v1/blobs/$id");
    blob_is($r, $blob, "$lie: GET of the blob gets its bytes");

    if ($mode eq 'bigmeta') {
        my $grown = worker_peak() - $before;
        cmp_ok($grown, '<', 32 * 1024,
               '... and the gateway does not keep the 64 MiB (KiB grown)');
    }

    $r = gateway('GET', "/v1/blobs/$id/status");
    my $s = decode($r)->{success}{data} // {};
    ok($r->{status} == 200 && ($s->{blobId} // '') eq $id
       && ($s->{size} // 0) == length $blob,
       "$lie: the blob's status") or diag($r->{content});
    ok(signers_ok($s->{certificate} // {}),
       '... names each signer once, in order')
        or diag($json->encode($s->{certificate} // {}));

    $r = gateway('PUT', '/v1/blobs', $blob);
    my $d = decode($r)->{alreadyCertified} // {};
    ok($r->{status} == 200 && ($d->{blobId} // '') eq $id
       && ($d->{size} // 0) == length $blob,
       "$lie: PUT of the same bytes: alreadyCertified")
        or diag("$r->{status} $r->{content}");
    ok(signers_ok($d->{certificate} // {}),
       '... its signers each once, in order')
        or diag($json->encode($d->{certificate} // {}));
    ok(cert_ok($d->{certificate}{bytes}, $id),
       '... and a canonical certificate that verifies');

    # once by each GET, once more by the PUT for a certificate
    cmp_ok(said($mode, $mark), '>=', $mode eq 'bigmeta' ? 2 : 3,
           '... each time the lie is logged');
}

# nor would a node store them: the 255 entries, or 5 valid ones reordered
my $lie = WalrusTest::read_file("$dir/lie-cert255");
my $swapped = substr($good, 0, 37) . pack('v', 5) . $entries[1]
    . $entries[0] . join('', @entries[2 .. 4]);
for my $bad ([$lie, '255 entries'], [$swapped, 'two signers swapped']) {
    my $r = $t->node_request(1, 'PUT', "/v1/blobs/$id/certificate",
                             $bad->[0]);
    ok($r->{status} == 400 && reason($r) eq 'INVALID_CERTIFICATE',
       "a node refuses a certificate of $bad->[1]")
        or diag("$r->{status} $r->{content}");
}

# the liar's certificates never reach a node: each honest one keeps its own
my @stored = grep { -e $t->store($_) . "/$id/certificate" } 1 .. $n - 1;
my @canonical = grep {
    my $c = WalrusTest::read_file($t->store($_) . "/$id/certificate");
    length $c <= 39 + 66 * $n
} @stored;
ok(@stored && @canonical == @stored,
   'the certificates on the honest nodes have at most one entry a node');

$t->stop;
kill 'TERM', @relays;
waitpid $_, 0 for @relays;

done_testing();
