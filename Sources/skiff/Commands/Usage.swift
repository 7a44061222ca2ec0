enum Usage {
    static let text = """
        usage: skiff <command> [options]        (skiff <command> --help for its options)

        the appliance:
          serve       run the daemon: the OpenFaaS-compatible gateway, the function runtime, the NATS broker
          nats-server run the NATS broker alone, with nats-server's flags (also as a link named nats-server)
          install     install the service on this machine (or into --root DIR); again to upgrade
          uninstall   remove it (state kept unless --purge)

        functions (talk to the gateway: --gateway, else $OPENFAAS_URL, else the stack file, else :8080):
          login       save the admin credentials (--password-stdin)
          logout      forget them
          new         create a handler folder and NAME.yml from a template (--lang)
          build       build images from a stack file, without Docker
          deploy      deploy from a stack file or from --image/--name
          up          build and deploy
          list        list functions (--json for scripts)
          describe    show one function
          invoke      call a function with standard input as the body
          logs        print a function's logs (--follow)
          scale       set a function's replicas
          remove      remove functions
          secret      create, update, list, remove secrets
          namespace   list namespaces
          images      list the images in containerd and the functions using them; `prune` the unused
          queue       the asynchronous calls per function and the dead letters; `retry` and `purge` them
          version     the client's version and the gateway's
        """
}
