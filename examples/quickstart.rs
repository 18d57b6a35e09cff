//! A service's first log lines: `cargo run --example quickstart`.

use std::fmt;

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct RetryPolicy {
    attempts: u32,
}

#[derive(Debug)]
struct CardDeclined;
impl fmt::Display for CardDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for CardDeclined {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = datapunk_log::builder().stdout().init()?;

    let (user_id, latency, route) = (42u64, 3.25f64, "/api/v1/items");
    datapunk_log::info!(user_id, latency, route, "request handled");
    let addr = std::net::SocketAddr::from(([10, 0, 0, 7], 443));
    let policy = RetryPolicy { attempts: 3 };
    datapunk_log::warn!(status = 503, peer = %addr, retry = ?policy, "upstream slow");
    let e = CardDeclined;
    datapunk_log::error!(error = datapunk_log::err(&e), "payment failed");
    let (size, n) = (1024, 7);
    datapunk_log::debug!("cache size {} after {} evictions", size, n);
    datapunk_log::log!(datapunk_log::Level::Info, target: "audit", user_id, "login");
    datapunk_log::info!(
        http.status = 200,
        message = "user field named message",
        "dotted keys"
    );
    datapunk_log::flush();
    eprintln!("{:?}", datapunk_log::stats());
    Ok(())
}
