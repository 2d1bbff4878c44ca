//! The run network for real: namespaces, partitions, packet faults and
//! leftovers, on this machine's kernel. Needs root, `ip`, `tc` and `nft`
//! (or `iptables-restore`); each test says why and passes when they are
//! missing. Each test uses a run id of its own (tests run in parallel, and
//! the pid keeps two test processes apart).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::net::clean::{self, LeftoverKind, Owner};
use harness::net::firewall::{self, Backend};
use harness::net::packet::{self, Links, PacketSpec};
use harness::net::probe::{self, Reach};
use harness::net::{netns_available, Endpoint, NetError, RunNet};

/// Long enough for a datagram over a veth on a loaded machine; an open
/// link answers in microseconds and the probe returns at once.
const WAIT: Duration = Duration::from_millis(700);

fn ready(test: &str) -> bool {
    match netns_available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// `tag` and the pid in base 36: at most 6 characters.
fn run_id(tag: &str) -> String {
    let mut n = std::process::id() % 36u32.pow(4);
    let mut id = tag.to_string();
    for _ in 0..4 {
        id.push(char::from(
            b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize],
        ));
        n /= 36;
    }
    assert!(id.len() <= 6);
    id
}

fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every namespace and root-namespace link whose name carries `id`.
fn names_with(id: &str) -> Vec<String> {
    let tag = format!("-{id}-");
    let mut out: Vec<String> = sh("ip", &["netns", "list"])
        .lines()
        .filter(|l| l.contains(&tag))
        .map(String::from)
        .collect();
    out.extend(
        sh("ip", &["-o", "link"])
            .lines()
            .filter(|l| l.contains(&tag))
            .map(String::from),
    );
    out
}

fn in_benchmarking_range(a: Ipv4Addr) -> bool {
    let [x, y, _, _] = a.octets();
    x == 198 && (18..=19).contains(&y)
}

fn matrix_text(m: &[Vec<bool>]) -> String {
    m.iter()
        .map(|row| {
            row.iter()
                .map(|&d| if d { '1' } else { '.' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_matrix(net: &RunNet, want: impl Fn(usize, usize) -> bool, when: &str) {
    let m = probe::delivery_matrix(net, WAIT).expect("probes");
    let n = net.nodes();
    let expected: Vec<Vec<bool>> = (0..n)
        .map(|a| (0..n).map(|b| a == b || want(a, b)).collect())
        .collect();
    assert_eq!(
        matrix_text(&m),
        matrix_text(&expected),
        "{when}: delivered[from][to] (1 = delivered)"
    );
}

#[test]
fn three_nodes_are_joined_to_each_other_and_the_host_and_to_nothing_else() {
    if !ready("three_nodes") {
        return;
    }
    let id = run_id("a");
    let started = Instant::now();
    let mut net = RunNet::create(&id, 3).expect("create");
    let create_ms = started.elapsed().as_millis();
    assert_eq!(net.run_id(), id);
    assert_eq!(net.namespace(2), format!("skeptic-{id}-n3"));
    let [a, b, c, d] = net.host_addr().octets();
    assert!(
        a == 198 && (18..=19).contains(&b) && d == 254,
        "{}",
        net.host_addr()
    );
    for k in 0..3 {
        assert_eq!(net.node_addr(k), Ipv4Addr::new(a, b, c, k as u8 + 1));
    }

    // Every directed pair, and the host both ways.
    assert_matrix(&net, |_, _| true, "fresh network");
    for k in 0..3 {
        assert!(
            probe::delivered_between(&net, Endpoint::Host, Endpoint::Node(k), WAIT).unwrap(),
            "host -> {}",
            Endpoint::Node(k)
        );
        assert!(
            probe::delivered_between(&net, Endpoint::Node(k), Endpoint::Host, WAIT).unwrap(),
            "{} -> host",
            Endpoint::Node(k)
        );
    }

    // The harness's own listener at the host address is reachable; a
    // closed port on another node answers with a reset.
    let host_listener = TcpListener::bind((net.host_addr(), 0)).unwrap();
    assert_eq!(
        probe::reach(&net, 0, host_listener.local_addr().unwrap(), WAIT).unwrap(),
        Reach::Connected
    );
    assert!(probe::reaches(&net, 0, SocketAddr::from((net.node_addr(1), 9)), WAIT).unwrap());

    // No route out.
    let w = Duration::from_millis(500);
    let unreachable = |addr: SocketAddr| {
        let r = probe::reach(&net, 0, addr, w).unwrap();
        assert!(matches!(r, Reach::Unreachable(_)), "n0 -> {addr}: {r:?}");
        assert!(!probe::reaches(&net, 0, addr, w).unwrap());
    };
    unreachable("10.1.2.3:80".parse().unwrap());
    // The host's real addresses (not loopback, not the benchmarking range).
    let host_addrs: Vec<Ipv4Addr> = sh("ip", &["-4", "-o", "addr", "show"])
        .lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
        .filter_map(|p| p.split('/').next()?.parse::<Ipv4Addr>().ok())
        .filter(|a| !a.is_loopback() && !in_benchmarking_range(*a))
        .collect();
    if host_addrs.is_empty() {
        eprintln!("no host address outside loopback to test against");
    }
    for addr in host_addrs {
        let listener = TcpListener::bind((addr, 0)).unwrap();
        unreachable(listener.local_addr().unwrap());
    }
    // 127.0.0.1 inside a node is the node's own loopback: a listener on the
    // host's loopback is not reached (the node's own lo refuses).
    let host_lo = TcpListener::bind("127.0.0.1:0").unwrap();
    host_lo.set_nonblocking(true).unwrap();
    assert_eq!(
        probe::reach(&net, 0, host_lo.local_addr().unwrap(), w).unwrap(),
        Reach::Refused
    );
    assert!(
        host_lo.accept().is_err(),
        "a node reached the host's loopback"
    );
    // Another run's subnet.
    let mut other = RunNet::create(&run_id("b"), 1).expect("create a second run");
    assert_ne!(other.subnet(), net.subnet());
    unreachable(SocketAddr::from((other.node_addr(0), 80)));
    let other_host = TcpListener::bind((other.host_addr(), 0)).unwrap();
    unreachable(other_host.local_addr().unwrap());
    other.teardown();

    // A wrapped program runs in the node's namespace under its own pid.
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    let script = format!("echo $$; exec {ip} -4 -o addr show");
    let (program, args) = net.wrap(1, Path::new("/bin/sh"), &["-c".into(), script]);
    let child = Command::new(&program)
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().next(),
        Some(pid.to_string().as_str()),
        "the wrapper exec'd"
    );
    let addrs: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
        .collect();
    assert_eq!(
        addrs,
        [
            "127.0.0.1/8".to_string(),
            format!("{}/24", net.node_addr(1))
        ],
        "{text}"
    );

    // Teardown removes everything, and twice is fine.
    assert!(!names_with(&id).is_empty());
    let started = Instant::now();
    net.teardown();
    let teardown_ms = started.elapsed().as_millis();
    net.teardown();
    assert_eq!(names_with(&id), Vec::<String>::new(), "left after teardown");
    assert!(!Path::new(&format!("/run/skeptic/net/{id}")).exists());
    eprintln!("3-node run network: create {create_ms} ms, teardown {teardown_ms} ms");
}

#[test]
fn partitions_cut_exactly_the_links_asked_and_heal() {
    if !ready("partitions") {
        return;
    }
    let mut net = RunNet::create(&run_id("p"), 5).expect("create");
    let minority = [0, 1];
    let side = |k: usize| minority.contains(&k);
    let split: BTreeSet<(usize, usize)> = (0..5)
        .flat_map(|a| (0..5).map(move |b| (a, b)))
        .filter(|&(a, b)| side(a) != side(b))
        .collect();
    net.set_drops(&split).unwrap();
    assert_eq!(net.drops(), split);
    assert_matrix(
        &net,
        |a, b| side(a) == side(b),
        "minority {0,1} | majority {2,3,4}",
    );
    // Clients (the harness) still reach every node.
    for k in 0..5 {
        assert!(
            probe::delivered_between(&net, Endpoint::Host, Endpoint::Node(k), WAIT).unwrap(),
            "host -> {}",
            Endpoint::Node(k)
        );
    }
    assert!(firewall::dropped_packets(net.firewall(), net.namespace(0)).unwrap() > 0);

    // One way: 0 hears 1, 1 does not hear 0.
    let one_way = BTreeSet::from([(0, 1)]);
    net.set_drops(&one_way).unwrap();
    assert!(
        !probe::delivered(&net, 0, 1, WAIT).unwrap(),
        "0 -> 1 is cut"
    );
    assert!(
        probe::delivered(&net, 1, 0, WAIT).unwrap(),
        "1 -> 0 is open"
    );
    assert_matrix(&net, |a, b| (a, b) != (0, 1), "one way 0 -/-> 1");
    assert!(firewall::dropped_packets(net.firewall(), net.namespace(1)).unwrap() > 0);
    assert_eq!(
        firewall::dropped_packets(net.firewall(), net.namespace(0)).unwrap(),
        0,
        "n0 drops nothing now"
    );

    // Heal.
    net.set_drops(&BTreeSet::new()).unwrap();
    assert_matrix(&net, |_, _| true, "healed");
    assert!(sh(
        "ip",
        &["netns", "exec", net.namespace(1), "nft", "list", "tables"]
    )
    .trim()
    .is_empty());

    for bad in [(0, 0), (0, 5), (7, 1)] {
        assert!(
            matches!(
                net.set_drops(&BTreeSet::from([bad])),
                Err(NetError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn partitions_with_iptables() {
    if !ready("partitions_with_iptables") {
        return;
    }
    if !Path::new("/usr/sbin/iptables-restore").exists()
        && !Path::new("/sbin/iptables-restore").exists()
    {
        eprintln!("skipping partitions_with_iptables: no iptables-restore");
        return;
    }
    let mut net = RunNet::create_with(&run_id("i"), 3, Backend::Iptables).expect("create");
    net.set_drops(&BTreeSet::from([(0, 1), (2, 1)])).unwrap();
    assert_matrix(&net, |a, b| b != 1 || a == 1, "n1 hears no one");
    assert!(firewall::dropped_packets(Backend::Iptables, net.namespace(1)).unwrap() > 0);
    net.set_drops(&BTreeSet::new()).unwrap();
    assert_matrix(&net, |_, _| true, "healed");
}

/// Sends `count` datagrams of 1400 bytes from inside `from` to `to` as
/// fast as it can.
fn blast(net: &RunNet, from: usize, to: usize, count: usize) {
    let (src, dst) = (net.node_addr(from), net.node_addr(to));
    net.run_in(Endpoint::Node(from), move || {
        let sock = UdpSocket::bind((src, 0)).unwrap();
        for _ in 0..count {
            let _ = sock.send_to(&[7u8; 1400], (dst, 9));
        }
    })
    .unwrap();
}

#[test]
fn packet_faults_hit_only_the_aimed_links() {
    if !ready("packet_faults") {
        return;
    }
    let mut net = RunNet::create(&run_id("k"), 3).expect("create");
    let spec = |s: &str| s.parse::<PacketSpec>().unwrap();

    // Total loss between {0} and {1,2}: 1 <-> 2 and the host are untouched.
    net.set_packet(&[(Links::Between(vec![0], vec![1, 2]), spec("loss=100%"))])
        .unwrap();
    assert!(net.packet_in_force().unwrap());
    assert_matrix(
        &net,
        |a, b| a != 0 && b != 0,
        "loss=100% between {0} and {1,2}",
    );
    assert!(probe::delivered_between(&net, Endpoint::Host, Endpoint::Node(0), WAIT).unwrap());
    assert!(probe::delivered_between(&net, Endpoint::Node(0), Endpoint::Host, WAIT).unwrap());
    if !packet::netem_supported() {
        assert!(packet::loss_dropped(&net).unwrap() > 0);
    }
    net.clear_packet().unwrap();
    assert!(!net.packet_in_force().unwrap());
    assert_matrix(&net, |_, _| true, "cleared");

    // Delay needs netem.
    let delay = [(Links::Node(1), spec("delay=50ms,jitter=5ms"))];
    if packet::netem_supported() {
        net.set_packet(&delay).unwrap();
        let stats = packet::tc_stats(&net, 1).unwrap();
        assert!(stats.iter().any(|s| s.kind == "netem"), "{stats:?}");
        net.clear_packet().unwrap();
    } else {
        match net.set_packet(&delay) {
            Err(e @ NetError::Unsupported { .. }) => {
                assert!(e.to_string().contains("CONFIG_NET_SCH_NETEM"), "{e}")
            }
            other => panic!("delay without netem: {other:?}"),
        }
        assert!(
            !net.packet_in_force().unwrap(),
            "a refused fault changed nothing"
        );
    }

    // A bandwidth limit on 0 -> 1 only: its class counts 0 -> 1 traffic and
    // nothing else, and the shaper holds back or drops a burst.
    net.set_packet(&[(Links::Between(vec![0], vec![1]), spec("rate=1mbit"))])
        .unwrap();
    let class = |net: &RunNet| {
        packet::tc_stats(net, 0)
            .unwrap()
            .into_iter()
            .find(|s| s.object == "class" && s.id == "1:1")
            .expect("class 1:1")
    };
    assert_eq!(class(&net).sent_packets, 0);
    blast(&net, 0, 2, 200);
    assert_eq!(class(&net).sent_packets, 0, "0 -> 2 is not limited");
    blast(&net, 0, 1, 200);
    let limited = class(&net);
    assert!(limited.sent_packets > 0, "{limited:?}");
    let stats = packet::tc_stats(&net, 0).unwrap();
    let leaf = stats
        .iter()
        .find(|s| s.object == "qdisc" && (s.kind == "tbf" || s.kind == "netem"))
        .expect("a leaf qdisc");
    if leaf.kind == "tbf" {
        assert!(
            leaf.overlimits + leaf.dropped > 0,
            "280 kB at 1 mbit/s went through unshaped: {leaf:?}"
        );
    }
    // Node 1 sends back unshaped: the fault is on 1 -> 0 too.
    let back = packet::tc_stats(&net, 1).unwrap();
    assert!(
        back.iter().any(|s| s.object == "class" && s.id == "1:1"),
        "{back:?}"
    );
    assert!(
        packet::tc_stats(&net, 2)
            .unwrap()
            .iter()
            .all(|s| s.kind != "htb"),
        "n2 is not aimed at"
    );

    // Two faults on one link are refused before anything changes.
    let clash = [
        (Links::Node(0), spec("loss=1%")),
        (Links::Between(vec![0], vec![2]), spec("loss=2%")),
    ];
    assert!(matches!(net.set_packet(&clash), Err(NetError::Invalid(_))));
    assert!(
        net.packet_in_force().unwrap(),
        "the rate limit is still there"
    );
    net.clear_packet().unwrap();
    assert!(!net.packet_in_force().unwrap());
}

#[test]
fn leftovers_of_a_killed_run_are_found_and_removed() {
    if !ready("leftovers") {
        return;
    }
    let id = run_id("d");
    // A run whose harness died without tearing down.
    std::mem::forget(RunNet::create(&id, 2).expect("create"));
    let mine: Vec<_> = clean::leftovers()
        .into_iter()
        .filter(|l| l.run_id == id)
        .collect();
    let kinds: Vec<(LeftoverKind, &str)> = mine.iter().map(|l| (l.kind, l.name.as_str())).collect();
    let ns = |s: &str| format!("skeptic-{id}-{s}");
    let (n1, n2, sw, h, reg) = (
        ns("n1"),
        ns("n2"),
        ns("sw"),
        format!("sk-{id}-h"),
        format!("/run/skeptic/net/{id}"),
    );
    assert_eq!(
        kinds,
        [
            (LeftoverKind::Link, h.as_str()),
            (LeftoverKind::Namespace, n1.as_str()),
            (LeftoverKind::Namespace, n2.as_str()),
            (LeftoverKind::Namespace, sw.as_str()),
            (LeftoverKind::Registry, reg.as_str()),
        ]
    );
    // This process made it and still runs: not stale, and the id is taken.
    assert!(
        mine.iter()
            .all(|l| l.owner == Owner::Alive(std::process::id())),
        "{mine:?}"
    );
    assert!(!clean::stale_leftovers().iter().any(|l| l.run_id == id));
    assert!(matches!(
        RunNet::create(&id, 1),
        Err(NetError::RunIdInUse { .. })
    ));

    assert_eq!(clean::remove(&mine).unwrap(), 5);
    assert!(clean::leftovers().iter().all(|l| l.run_id != id));
    assert_eq!(names_with(&id), Vec::<String>::new());
    assert_eq!(clean::remove(&mine).unwrap(), 0, "removing again is fine");
    // The id is free again.
    RunNet::create(&id, 1)
        .expect("create after clean")
        .teardown();

    // A harness killed with SIGKILL: its run is stale.
    let killed = run_id("x");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_child_that_makes_a_run_network_and_waits",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SKEPTIC_NETNS_CHILD", &killed)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.trim() == "NETWORK-UP")),
        "the child did not make its network"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let stale: Vec<_> = clean::stale_leftovers()
        .into_iter()
        .filter(|l| l.run_id == killed)
        .collect();
    assert_eq!(
        stale.len(),
        4,
        "n1, sw, the host link, the registry file: {stale:?}"
    );
    assert!(
        stale.iter().all(|l| l.owner == Owner::Dead(pid)),
        "{stale:?}"
    );
    assert_eq!(clean::remove(&stale).unwrap(), 4);
    assert_eq!(names_with(&killed), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/skeptic/net/{killed}")).exists());
}

/// Run by the leftovers test as a child process, which it then kills.
#[test]
fn a_child_that_makes_a_run_network_and_waits() {
    let Ok(id) = std::env::var("SKEPTIC_NETNS_CHILD") else {
        return;
    };
    let _net = RunNet::create(&id, 1).expect("create");
    println!("\nNETWORK-UP");
    std::thread::sleep(Duration::from_secs(60));
}
