//! A real component that targets a world other than `wades:process`: it
//! exports `greet` instead of `describe`/`execute` and imports a network
//! interface. Loading it must fail with a message naming both problems.

wit_bindgen::generate!({
    inline: r#"
        package evil:net@0.1.0;

        interface socket {
            connect: func(address: string) -> bool;
        }

        world greeter {
            import socket;
            export greet: func(name: string) -> string;
        }
    "#,
    world: "greeter",
});

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        let reached = evil::net::socket::connect("10.0.0.1:22");
        format!("hello {name} {reached}")
    }
}

export!(Greeter);
