mod email;

pub use email::Email;
