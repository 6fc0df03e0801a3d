# The company's home page for browsers that read WWW_HOME (lynx, w3m).
export WWW_HOME=https://intranet.corp.lab/
