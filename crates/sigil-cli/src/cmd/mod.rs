//! One module per subcommand.

pub mod check;
pub mod convert;
pub mod list;
pub mod match_;
