//! Hello, world: serve the generated echo service and call it once.
//!
//! Run: `cargo run -p ringrpc-examples --bin hello`.

use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A server on every core; each worker builds its own handler.
    let server =
        Server::builder().serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))?;
    let address = server.address().to_string();
    // A client on this thread's own runtime.
    let reply = block_on(Driver::Auto, async move {
        let client = echo::Client::new(Client::builder(&address).connect().await?);
        Ok::<_, Box<dyn std::error::Error>>(client.echo("hello, world".into()).await?)
    })??;
    println!("{reply}");
    server.shutdown()?;
    Ok(())
}
