# Storage audits (docs/protocol.md section 17) run by the nodes' keepers:
# every honest node gets an audit certificate each round, one whose
# answers come 2 s late too, also for a round whose answers it sent only
# after the next round opened;
# a node that lost a challenged sliver gets none for that round and its
# peers say which blob, and it cannot rebuild that sliver from its peers'
# recovery symbols while the round is open; a node that signs a wrong
# symbol leaves a fraud proof that walrusctl checks; with f nodes down
# the others are still certified.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time stat);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $P = 'WalrusTest::Proto';
my $CTL = "$WalrusTest::CTL -c $dir/committee.json";
my ($SLOW, $LIAR) = (5, 6);

# a keeper round every 300 ms, an audit round every 2 s; the nodes'
# locations are the harness's:
#
#     location / {
#         walrus_node;
#         walrus_node_name node%%NODE%%;
#         walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
#         walrus_node_store %%DIR%%/store%%NODE%%;
#     }
my $I = 4;
my $HTTP = <<"EOF";
    walrus_node_keeper_interval 300ms;
    walrus_node_audit_interval ${I}s;
EOF

# --- relays: a node that answers everything 2 s late, and a liar -----------

# the relayed nodes' servers on ports of their own
my ($moved, @real) = $t->moved_nodes($SLOW, $LIAR);

sub mode { WalrusTest::write_file("$dir/mode$_[0]", $_[1]) }

# the liar's answer: the first symbol of its first held blob changed, the
# answer signed again with its key (section 17.3: 45-byte header, blob ID,
# held byte, pair count, pair, segment, leaves, symbol size)
sub lie {
    my ($answer, $i) = @_;
    my $body = substr $answer, 0, length($answer) - 64;
    return $answer if length $body < 95 || substr($body, 77, 1) ne "\0";
    substr($body, 94, 1) ^= "\xff";

    # the relay ignores SIGCHLD, which would make system() fail
    local $SIG{CHLD} = 'DEFAULT';
    WalrusTest::write_file("$dir/lie.msg", "walrus-audit-answer:1" . $body);
    system("openssl pkeyutl -sign -inkey $dir/keys/node$i.key -rawin "
           . "-in $dir/lie.msg -out $dir/lie.sig") == 0 or return $answer;
    return $body . WalrusTest::read_file("$dir/lie.sig");
}

sub relay_connection {
    my ($c, $i) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my $mode = WalrusTest::read_file("$dir/mode$i") // 'honest';
        my ($uri) = $h =~ m{^\S+ (\S+)};

        sleep 2 if $mode eq 'slow';


        if ($mode eq 'mute' && $uri =~ m{^/v1/audit/rounds/\d+/answer}) {
            print $c "HTTP/1.1 503 Service Unavailable\r\n"
                     . "Content-Length: 0\r\n\r\n";
            next;
        }

        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        my ($head, $rest) = split /\r\n\r\n/, $answer, 2;

        if ($mode eq 'lie' && $uri =~ m{^/v1/audit/rounds/\d+/answer}
            && $head =~ m{^HTTP/1\.1 200 })
        {
            $rest = lie($rest, $i);
            open my $fh, '>>', "$dir/lied$i" or die "lied$i: $!";
            print $fh "$uri\n";
            close $fh;
        }

        print $c "$head\r\n\r\n$rest";
    }
}

# both honest while the blobs are stored; the slow one is slow from then
# on
mode($SLOW, 'honest');
mode($LIAR, 'honest');
my @relays = map {
    my $i = $_;
    $t->start_relay($i, sub { relay_connection($_[0], $i) });
} $SLOW, $LIAR;

# the Prometheus metrics of the nodes (operations.md, "Metrics")
my $mport = WalrusTest::free_port();
my $METRICS = <<"EOF";
    server {
        listen 127.0.0.1:$mport;

        location = /metrics {
            walrus_metrics;
        }
    }
EOF

$t->write_config(gateway => 1, http => $HTTP . $moved . $METRICS,
                 down => [$SLOW, $LIAR])
  ->run;

# --- helpers ------------------------------------------------------------------

sub rounds_dir { $t->store($_[0]) . "/audit/rounds" }

sub newest {
    my ($i) = @_;
    my $b = WalrusTest::read_file($t->store($i) . '/audit/latest')
        // return 0;
    return unpack 'V', substr $b, 5, 4;
}

sub certified {
    my ($i, $r) = @_;
    return -s rounds_dir($i) . "/$r/certificate";
}

sub verify_audit {
    my ($file) = @_;
    my $out = `$CTL verify-audit $file 2>&1`;
    return ($? == 0, $out);
}

sub pair_of {
    my ($i, $id) = @_;
    return $P->can('shard_to_pair')->($P->can('unb64url')->($id), $n, $i);
}

# the nodes whose confirmation is in a blob's certificate
sub promised {
    my ($i, $id) = @_;
    my $c = WalrusTest::read_file($t->store($i) . "/$id/certificate") // '';
    return () if length $c < 39;
    my $m = unpack 'v', substr $c, 37, 2;
    return map { unpack 'v', substr $c, 39 + 66 * $_, 2 } 0 .. $m - 1;
}

# the recovery lock entries of node $i: [blob ID, pair, node, round]
sub locks {
    my ($i) = @_;
    my $l = WalrusTest::read_file($t->store($i) . '/audit/locks') // '';
    my @e;
    for (my $o = 0; $o + 40 <= length $l; $o += 40) {
        push @e, [ $P->can('b64url')->(substr $l, $o, 32),
                   unpack('v', substr $l, $o + 32, 2),
                   unpack('v', substr $l, $o + 34, 2),
                   unpack('V', substr $l, $o + 36, 4) ];
    }
    return @e;
}

# --- blobs -------------------------------------------------------------------

my @blobs = map { WalrusTest::blob_of(2 * $S + 100 * $_, 3 + $_) } 1 .. 8;
# stored by a writer that certifies with every node's confirmation: a
# node is challenged on the blobs whose certificate it signed (17.2), and
# a gateway's certificate holds the first n - f confirmations only
my @ids = map { $t->encode($_) } @blobs;
is(scalar(grep { $t->store_directly($ids[$_], length $blobs[$_]) == $n }
          0 .. $#ids), 8, 'eight blobs are stored, every node confirmed');
mode($SLOW, 'slow');

# --- honest nodes: a certificate each round ---------------------------------

my $r0 = 0;
ok(WalrusTest::eventually(sub {
       for my $r (1 .. 50) {
           next unless grep { certified($_, $r) } 0 .. $n - 1;
           if (!grep { !certified($_, $r) } 0 .. $n - 1) {
               $r0 = $r;
               return 1;
           }
       }
       return 0 }, 60),
   'every node, the slow one too, holds an audit certificate of a round')
    or diag(join ' ', map { "node $_ at round " . newest($_) } 0 .. $n - 1);

for my $i (0 .. $n - 1) {
    my ($ok, $out) = verify_audit(rounds_dir($i) . "/$r0/certificate");
    ok($ok && $out =~ /node$i\b/ && $out =~ /round $r0\b/,
       "walrusctl verify-audit accepts node ${i}'s certificate of round $r0")
        or diag($out);
}

my $beacon = rounds_dir(0) . "/$r0/beacon";
my ($ok, $out) = verify_audit($beacon);
ok($ok && $out =~ /^beacon/, 'and the round\'s beacon') or diag($out);

# a node whose answers arrive after later rounds opened is certified
# too
# (its relay answers 503 to every challenge until the next round opened
# at every node)
mode($SLOW, 'mute');
my $Rm = (sort { $b <=> $a } map { newest($_) } 0 .. $n - 1)[0] + 1;
ok(WalrusTest::eventually(sub {
       !grep { newest($_) <= $Rm } grep { $_ != $SLOW } 0 .. $n - 1 }, 30),
   "round $Rm and a later one are open at every node");
# a round the node skipped (it took a later beacon first) it cannot
# answer: the first one after the mute that it holds
my $opened = $Rm;
$Rm++ while $Rm < newest($SLOW) && !-e rounds_dir($SLOW) . "/$Rm/beacon";
ok(-e rounds_dir($SLOW) . "/$Rm/beacon",
   "node $SLOW holds the beacon of round $Rm (from round $opened)");
ok(!grep({ -e rounds_dir($_) . "/$Rm/attest.$SLOW" }
         grep { $_ != $SLOW } 0 .. $n - 1),
   "no node heard node $SLOW for round $Rm so far");
mode($SLOW, 'slow');
ok(WalrusTest::eventually(sub { certified($SLOW, $Rm) }, 40),
   "then its late answers earn it the certificate of round $Rm");

# slow or late from here on, every keeper round of every verifier would
# wait for it: rounds would outpace them (an interval of 4 s is far below
# an operator's)
mode($SLOW, 'honest');

# --- a node that deleted a challenged sliver ---------------------------------

# node 6 (behind its relay) keeps its answers back while its file goes and
# a round opens: every answer of that round is about the blob lost
my $X = $LIAR;
my ($lost) = grep { my $id = $_; grep { $_ == $X } promised(0, $id) } @ids;
ok($lost, "node $X promised a blob") or BAIL_OUT('no blob to lose');
my $k = pair_of($X, $lost);

mode($X, 'mute');
my $gone = (sort { $b <=> $a } map { newest($_) } 0 .. $n - 1)[0];
ok(WalrusTest::eventually(sub { !grep { newest($_) <= $gone } 0 .. $n - 1 },
                          30),
   'a round opens while node 6 keeps its answers back');

# its peers lock the blob's pair against recovery in every round that
# challenges it (all its promised blobs: fewer than c = 32), until they
# have its answer
# (every peer: one that has not taken the round's beacon yet still serves
# the pair, and recovery needs only some of them, protocol 17.5)
ok(WalrusTest::eventually(sub {
       !grep { my $v = $_;
               !grep { $_->[0] eq $lost && $_->[1] == $k && $_->[2] == $X
                       && $_->[3] > $gone } locks($v) }
        grep { $_ != $X } 0 .. $n - 1 }, 20),
   "every peer locks pair $k of the blob for node $X until it answers");

# the sliver lost now: node 6 cannot rebuild it from its peers
unlink $t->store($X) . "/$lost/$k.primary" or die "unlink: $!";
my $refused = 0;
ok(WalrusTest::eventually(sub {
       $refused = grep { m{GET /v1/blobs/\Q$lost\E/recovery/$k\b\S* 409 } }
                  map { $t->node_access($_) } grep { $_ != $X } 0 .. $n - 1;
       return $refused > 0 }, 20),
   "node $X asks its peers for the sliver before it answered: refused "
   . "($refused)");
ok(!-e $t->store($X) . "/$lost/$k.primary", 'and does not get it back');
mode($X, 'honest');

my $R;
ok(WalrusTest::eventually(sub {
       for my $r ($gone + 1 .. $gone + 20) {
           if (defined WalrusTest::read_file(rounds_dir(0)
                                             . "/$r/missing.$X"))
           {
               $R = $r;
               return 1;
           }
       }
       return 0 }, 40),
   "node 0 was told node $X lacks a blob in round " . ($R // '?'));
$R //= 0;
like(WalrusTest::read_file(rounds_dir(0) . "/$R/missing.$X") // '',
     qr/^\Q$lost\E$/m, 'and which one');

ok(WalrusTest::eventually(sub { $t->holds($X, $lost) }, 60),
   'once it answered, the lock lifts and the node heals the blob');
ok(!certified($X, $R), "node $X has no audit certificate of round $R");

my $status = eval {
    JSON::PP->new->decode($t->node_request(0, 'GET', '/v1/audit/status')
                          ->{content})->{success}{data} } // {};
my ($round) = grep { $_->{round} == $R } @{ $status->{rounds} // [] };
my ($says) = grep { $_->{node} == $X } @{ $round->{missing} // [] };
ok($says && grep({ $_ eq $lost } @{ $says->{blobs} // [] }),
   'node 0\'s audit status says which blob node ' . $X . ' lacks')
    or diag(JSON::PP->new->canonical->encode($status));

my $after = newest(0);
ok(WalrusTest::eventually(sub { certified($X, $after + 1)
                                 || certified($X, $after + 2) }, 30),
   'and is certified again');

# --- a node that signs a wrong symbol ----------------------------------------

mode($LIAR, 'lie');
my $fraud;
ok(WalrusTest::eventually(sub {
       ($fraud) = grep { -s } map { glob(rounds_dir($_) . "/*/fraud.$LIAR") }
                  grep { $_ != $LIAR } 0 .. $n - 1;
       return $fraud }, 30),
   "a peer keeps a fraud proof against node $LIAR");
($ok, $out) = verify_audit($fraud // '/nonexistent');
ok($ok && $out =~ /fraud/ && $out =~ /node$LIAR\b/,
   'walrusctl verify-audit accepts it and names the node') or diag($out);

my $bad = "$dir/bad.fraud";
my $copy = WalrusTest::read_file($fraud // '/dev/null') // '';
substr($copy, -200, 1) ^= "\x01" if length $copy > 200;
WalrusTest::write_file($bad, $copy);
($ok, $out) = verify_audit($bad);
ok(!$ok, 'and refuses a copy with a byte changed');
mode($LIAR, 'honest');

# --- f nodes down -------------------------------------------------------------

kill 'KILL', @relays;
waitpid $_, 0 for @relays;
my $from = newest(0);
ok(WalrusTest::eventually(sub {
       for my $r ($from + 1 .. $from + 14) {
           return 1 if !grep { !certified($_, $r) }
                       grep { $_ != $SLOW && $_ != $LIAR } 0 .. $n - 1;
       }
       return 0 }, 60),
   "with nodes $SLOW and $LIAR gone, a later round certifies every other "
   . 'node');

# --- the audit metrics ----------------------------------------------------------

# each verdict a node kept on disk is counted, and nothing else: fraud
# proofs and "missing" lists against a peer, and the node's own audit
# certificates
sub metrics { WalrusTest::scrape_metrics($mport) }

sub kept {
    my ($i, $name) = @_;
    return scalar grep { -s } glob(rounds_dir($i) . "/*/$name");
}

for my $i (0 .. $n - 1) {
    my ($m, $want);
    ok(WalrusTest::eventually(sub {
           $m = metrics();
           my $node = "node=\"node$i\"";
           $want = join ' ', kept($i, 'fraud.*'), kept($i, 'missing.*');
           join(' ', map { $m->{"walrus_node_audit_answers_total{$node,"
                               . "verdict=\"$_\"}"} // -1 }
                     qw(fraud missing)) eq $want;
       }, 10),
       "node$i: the fraud proofs and missing verdicts counted are those it "
       . "kept ($want)");
    ok($m->{"walrus_node_audit_rounds_total{node=\"node$i\"}"} > 0,
       "node$i: audit rounds are counted");
    ok($m->{"walrus_node_audit_answers_total{node=\"node$i\","
            . 'verdict="passed"}'} > 0, "node$i: passed answers are counted");
}
ok(!grep({ metrics()->{"walrus_node_audit_certificates_total{node="
                       . "\"node$_\"}"} < kept($_, 'certificate') }
         0 .. $n - 1),
   'each node counted at least the audit certificates it keeps');

$t->stop;
$t->check_logs;

done_testing;
