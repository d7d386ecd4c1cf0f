//! Device drivers: the PL011 console (and, later, the consumers of reserved memory).

pub mod pl011;
