// mapdrive-service on Azure: Container Apps running the image with a
// user-assigned managed identity, Azure SQL (Entra-only authentication),
// and a Key Vault RSA key that wraps the per-tenant data keys.
// Deploy: az deployment group create -g <rg> -f installer/azure/main.bicep \
//   -p image=<registry>/mapdrive-service:<version> apiClientId=<app id> apiClientSecret=<its client secret> \
//      sqlAdminObjectId=<your Entra object id> sqlAdminLogin=<your UPN>
// See docs/deploy-service.md.

@description('Azure region.')
param location string = resourceGroup().location

@description('Prefix of every resource name (3-11 lower-case letters and digits).')
@minLength(3)
@maxLength(11)
param prefix string = 'mapdrive'

@description('Container image of mapdrive-service.')
param image string

@description('Application (client) ID of the Mapdrive service app registration: the token audience.')
param apiClientId string

@description('App ID URI of the service API, the audience of v1.0 tokens (default: api://<apiClientId>, the URI Entra proposes).')
param apiAppIdUri string = 'api://${apiClientId}'

@description('A client secret of the service app registration (entra-app-registration.md step 1.4). The service needs it to look up a user\'s groups on their behalf, since Entra sends no groups claim by default, and for the portal\'s sign-in. Stored in the Key Vault; the app reads it through a Key Vault reference.')
@secure()
param apiClientSecret string

@description('Object ID of the Entra user or group that administers the SQL server.')
param sqlAdminObjectId string

@description('Display name (UPN or group name) of that SQL administrator.')
param sqlAdminLogin string

@description('Replicas: the service is stateless, so any number can run.')
@minValue(1)
param minReplicas int = 2
param maxReplicas int = 6

@description('CIDRs of the Container Apps environment\'s infrastructure subnet: its ingress is the trusted proxy whose X-Forwarded-For names the client for the refused-sign-in limit. Empty: the limit keys on the ingress address.')
param trustedProxies string = ''

var suffix = uniqueString(resourceGroup().id)
var kvName = take('${prefix}kv${suffix}', 24)

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-service-id'
  location: location
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: kvName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'premium' } // HSM-backed keys
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// The key-encryption key. Wrap/unwrap only; rotated yearly by policy,
// after which `mapdrive-service keys rotate` re-wraps the data keys.
resource kek 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: vault
  name: 'mapdrive-kek'
  properties: {
    kty: 'RSA-HSM'
    keySize: 3072
    keyOps: [ 'wrapKey', 'unwrapKey' ]
    rotationPolicy: {
      attributes: { expiryTime: 'P2Y' }
      lifetimeActions: [
        { action: { type: 'rotate' }, trigger: { timeAfterCreate: 'P1Y' } }
        { action: { type: 'notify' }, trigger: { timeBeforeExpiry: 'P30D' } }
      ]
    }
  }
}

// Key Vault Crypto Service Encryption User: read keys, wrap and unwrap.
resource kekUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: kek
  name: guid(kek.id, identity.id, 'e147488a-f6f5-4113-8e2d-b22465e65bf6')
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e147488a-f6f5-4113-8e2d-b22465e65bf6')
  }
}

// The service app's client secret, read by the container app through a Key
// Vault reference with the managed identity, and mounted as a file: the
// service reads secrets from files, never from its environment.
resource clientSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'mapdrive-client-secret'
  properties: { value: apiClientSecret }
}

// Key Vault Secrets User, on that one secret.
resource clientSecretUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: clientSecret
  name: guid(clientSecret.id, identity.id, '4633458b-17de-408a-b874-0445c86b69e6')
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
  }
}

resource sql 'Microsoft.Sql/servers@2023-08-01-preview' = {
  name: '${prefix}-sql-${suffix}'
  location: location
  properties: {
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    administrators: {
      administratorType: 'ActiveDirectory'
      azureADOnlyAuthentication: true
      login: sqlAdminLogin
      sid: sqlAdminObjectId
      tenantId: subscription().tenantId
      principalType: 'User'
    }
  }
}

resource sqlAllowAzure 'Microsoft.Sql/servers/firewallRules@2023-08-01-preview' = {
  parent: sql
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource db 'Microsoft.Sql/servers/databases@2023-08-01-preview' = {
  parent: sql
  name: 'mapdrive'
  location: location
  sku: { name: 'GP_S_Gen5_2', tier: 'GeneralPurpose' }
  properties: {
    autoPauseDelay: -1 // stay warm: validations must be fast
    minCapacity: json('0.5')
    zoneRedundant: false
    requestedBackupStorageRedundancy: 'Geo'
  }
}

resource env 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${prefix}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-service'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    managedEnvironmentId: env.id
    configuration: {
      ingress: {
        external: true
        targetPort: 8443
        transport: 'http'
        allowInsecure: false // the platform terminates TLS 1.2+ and redirects HTTP
      }
      secrets: [
        { name: 'client-secret', keyVaultUrl: clientSecret.properties.secretUri, identity: identity.id }
      ]
    }
    template: {
      containers: [
        {
          name: 'mapdrive-service'
          image: image
          args: [ 'serve' ]
          resources: { cpu: json('1.0'), memory: '2Gi' }
          env: [
            { name: 'MAPDRIVESVC_PLAIN_HTTP', value: 'true' } // TLS ends at the ingress
            { name: 'MAPDRIVESVC_DB', value: 'sqlserver://${sql.properties.fullyQualifiedDomainName}?database=mapdrive&fedauth=ActiveDirectoryManagedIdentity&user+id=${identity.properties.clientId}&encrypt=true' }
            { name: 'MAPDRIVESVC_KEK', value: 'azurekv:${vault.properties.vaultUri}keys/${kek.name}' }
            { name: 'MAPDRIVESVC_KEK_IDENTITY', value: identity.properties.clientId }
            { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
            { name: 'MAPDRIVESVC_AUTHORITY', value: 'https://login.microsoftonline.com' }
            { name: 'MAPDRIVESVC_CLIENT_ID', value: apiClientId }
            { name: 'MAPDRIVESVC_CLIENT_SECRET_FILE', value: '/mnt/secrets/client-secret' }
            { name: 'MAPDRIVESVC_AUDIENCE', value: '${apiClientId},${apiAppIdUri}' }
            { name: 'MAPDRIVESVC_PUBLIC_URL', value: 'https://${prefix}-service.${env.properties.defaultDomain}' }
            { name: 'MAPDRIVESVC_MIGRATE', value: 'false' } // run `migrate` as a release step (see docs)
            { name: 'MAPDRIVESVC_TRUSTED_PROXIES', value: trustedProxies }
          ]
          volumeMounts: [ { volumeName: 'secrets', mountPath: '/mnt/secrets' } ]
          probes: [
            { type: 'Liveness', httpGet: { path: '/healthz', port: 8443 }, periodSeconds: 10 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8443 }, periodSeconds: 5 }
          ]
        }
      ]
      volumes: [
        { name: 'secrets', storageType: 'Secret', secrets: [ { secretRef: 'client-secret', path: 'client-secret' } ] }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [ { name: 'http', http: { metadata: { concurrentRequests: '200' } } } ]
      }
    }
  }
  dependsOn: [ kekUser, clientSecretUser, db ]
}

output serviceUrl string = 'https://${app.properties.configuration.ingress.fqdn}'
output identityClientId string = identity.properties.clientId
output keyVaultKey string = '${vault.properties.vaultUri}keys/${kek.name}'
output sqlServer string = sql.properties.fullyQualifiedDomainName
output audience string = apiAppIdUri
