//! `crdgen`: prints the rmq CRDs as YAML (`cargo run -p rmq-model --bin crdgen > operator/model/crds/rmq.dev.yaml`).

fn main() -> std::process::ExitCode {
    match rmq_model::crd::crds_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("crdgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
